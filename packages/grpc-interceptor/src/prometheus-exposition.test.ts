import { execFileSync, spawnSync } from 'node:child_process';
import { EchoClient, type EchoServer, grpc, ipv4Target, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { CBSuiteMetrics, RedisSyncMetrics, type SyncStats } from './prometheus.js';
import { expositionProblems } from './test-support/exposition.js';

// One scrape with every metric in it: both levels, a tripped and a forced
// breaker, slow-call tracking, durations, a shed call, and a sync.
let scrape = '';
const servers: EchoServer[] = [];
let client: EchoClient | undefined;
let cbs: CBSuite | undefined;

const SYNC_STATS: SyncStats = {
  connected: true,
  flushes: 12,
  failedFlushes: 1,
  duplicates: 0,
  commands: 40,
  keys: 3,
  leases: 0,
  refused: { garbage: 1, forged: 0, oversized: 0, stale: 2, expired: 0, future: 0, implausible: 0 },
  refusedConfigs: 0,
  droppedStale: 0,
  appliedStates: 4,
  repaired: 0,
  clamped: 0,
  pendingBatches: 1,
  lagMs: Number.POSITIVE_INFINITY,
};

beforeAll(async () => {
  const clock = new ManualClock();
  servers.push(
    await startEchoServer(() => {
      clock.advance(7);
      return { code: grpc.status.UNAVAILABLE };
    }),
    await startEchoServer(),
  );
  cbs = new CBSuite(undefined, {
    fromService: 'shop "main"\\x',
    defaultServiceCBConfig: { minSample: 2 },
    serviceBreaker: { now: clock.now, slowCallDurationMs: 5 },
    serviceShedding: { concurrencyLimit: { maxConcurrent: 1 } },
  });
  client = new EchoClient(ipv4Target(servers), grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  const registry = new Registry();
  new CBSuiteMetrics({ registry }).add(cbs, 'checkout');
  const syncs = new RedisSyncMetrics({ registry });
  syncs.add({ stats: () => SYNC_STATS }, 'fleet');
  // Two at once: the second is shed by the concurrency limit.
  await Promise.all([say(client, 'x'), say(client, 'x')]);
  for (let i = 0; i < 6; i++) await say(client, 'x');
  cbs.instancePanel.setMode(servers[1]?.address ?? '', 'forcedOpen');
  scrape = await registry.metrics();
});

afterAll(async () => {
  client?.close();
  cbs?.close();
  await Promise.all(servers.map((s) => s.close()));
});

/** promtool on PATH, or undefined. CI installs it (Debian's prometheus package). */
function promtool(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

describe('the scrape', () => {
  it('holds every family, with labels escaped', () => {
    for (const name of [
      'cbsuite_breaker_state',
      'cbsuite_calls_total',
      'cbsuite_window_slow_call_rate',
      'cbsuite_transitions_total',
      'cbsuite_service_rejections_total',
      'cbsuite_service_shed_total',
      'cbsuite_call_duration_seconds',
      'cbsuite_instance_skips_total',
      'cbsuite_sync_refused_messages_total',
      'cbsuite_sync_lag_seconds',
    ]) {
      expect(scrape).toContain(`# TYPE ${name} `);
    }
    expect(scrape).toContain('key="shop \\"main\\"\\\\x/echo.v1.Echo/Say"');
    expect(scrape).toContain('cbsuite_sync_lag_seconds{sync="fleet"} +Inf');
    expect(scrape).toContain(
      'cbsuite_service_shed_total{suite="checkout",key="shop \\"main\\"\\\\x/echo.v1.Echo/Say",reason="concurrency"} 1',
    );
    expect(scrape).toContain('cbsuite_sync_refused_messages_total{sync="fleet",reason="stale"} 2');
  });

  it('follows the exposition format and its naming rules (checked by our parser)', () => {
    expect(expositionProblems(scrape)).toEqual([]);
  });

  it('passes promtool check metrics', () => {
    const bin = promtool();
    if (bin === undefined) {
      // Locally without promtool the parser above stands in; CI must have it.
      expect(process.env.CI, 'promtool is missing: .ci/run installs it (apt-get install prometheus)').toBeFalsy();
      return;
    }
    const out = spawnSync(bin, ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
    expect({ status: out.status, stdout: out.stdout, stderr: out.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });
});

describe('the exposition checker', () => {
  const bad: [string, string, RegExp][] = [
    ['a counter without _total', '# HELP x_calls h\n# TYPE x_calls counter\nx_calls 1\n', /not ending in _total/],
    ['no HELP', '# TYPE x_total counter\nx_total 1\n', /no HELP/],
    ['a sample before TYPE', 'x 1\n', /no # TYPE/],
    ['a bad label name', '# HELP x h\n# TYPE x gauge\nx{1a="v"} 1\n', /bad label name/],
    ['a duplicate series', '# HELP x h\n# TYPE x gauge\nx{a="v"} 1\nx{a="v"} 2\n', /duplicate series/],
    [
      'buckets going down',
      '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
      /below/,
    ],
    ['no +Inf bucket', '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no le="\+Inf"/],
    [
      '_count off +Inf',
      '# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      /_count 3 is not/,
    ],
    ['no _sum', '# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n', /no _sum/],
    ['milliseconds', '# HELP x_ms h\n# TYPE x_ms gauge\nx_ms 1\n', /base units/],
  ];
  for (const [what, text, problem] of bad) {
    it(`finds ${what}`, () => {
      expect(expositionProblems(text).join('\n')).toMatch(problem);
    });
  }

  it('agrees with promtool on a bad scrape, where promtool is installed', () => {
    const bin = promtool();
    if (bin === undefined) return;
    const text = '# HELP x_calls h\n# TYPE x_calls counter\nx_calls 1\n';
    let failed = false;
    try {
      execFileSync(bin, ['check', 'metrics'], { input: text, stdio: 'pipe' });
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(expositionProblems(text)).not.toEqual([]);
  });
});
