import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { fleetFacts } from './fleet-facts.js';
import type { Timeline } from './timeline.js';

const EXAMPLES = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs the demo as `pnpm demo` does (tsx, from examples/), its output piped: not a terminal. */
async function demo(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return demoWith({}, ...args);
}

async function demoWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: EXAMPLES,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

describe('pnpm demo', () => {
  it('plays the quick script without a terminal: narrated, no failure while an instance dies, the service breaker opens and closes, a report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cbsuite-demo-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const report = join(dir, 'report.html');
    const { code, out, err } = await demo('--quick', '--report', report);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).not.toContain('\x1b');

    const steps = [
      /^ +0\.0s {2}3 healthy instances answering in 15 ms; the client calls Say about 200\/s through CBSuite/m,
      /^ +[\d.]+s {2}instance (127\.0\.0\.1:\d+) killed \(SIGKILL\)/m,
      /^ +[\d.]+s {2}instance 127\.0\.0\.1:\d+ respawned on the same port/m,
      /^ +[\d.]+s {2}the whole service turns slow and failing: .* stays CLOSED/m,
      /^ +[\d.]+s {2}updateServiceCBConfig\('demo-client\/echo\.v1\.Echo\/Say', \{ errRate: 0\.25 \}\) at run time: errRate 0\.5 → 0\.25/m,
      /^ +[\d.]+s {2}the service recovers/m,
    ];
    const at = steps.map((re) => out.search(re));
    expect(at.every((i) => i >= 0)).toBe(true);
    expectScheduledOrder(at);

    // The instance that died opened its breaker, and no call failed for the caller while it was dead.
    const victim = out.match(steps[1] as RegExp)?.[1];
    expect(out).toContain(`instance breaker OPEN for ${victim}`);
    expect(out).toMatch(new RegExp(`while ${victim} was dead \\([\\d.]+s → [\\d.]+s\\): 0 of \\d+ calls failed`));
    expect(out).toMatch(/^ {4}instance down +[\d.]+s → [\d.]+s +[\d,]+ calls · ok [\d,]+ · failed 0 · rejected 0 /m);

    // The service breaker opened after the threshold was lowered, and its last change closed it. (It may close
    // before the recovery too, when two probes pass by chance, and open again.)
    const opened = out.search(
      /service breaker OPEN for demo-client\/echo\.v1\.Echo\/Say: \d+% of its last \d+ calls failed \(trips at 25%\); calls are now rejected at once, without reaching the service/,
    );
    expect(opened).toBeGreaterThan(at[4] as number);
    const changes = out.match(/^ +[\d.]+s {2}service breaker (OPEN|HALFOPEN|CLOSED) for /gm) ?? [];
    expect(changes.at(-1)).toMatch(/service breaker CLOSED for $/);
    expect(out).toMatch(/^ {2}service breaker opened [1-9]\d* times?, last closed at [\d.]+s/m);

    // Summary lines every few seconds, then the summary and the report.
    expect(out.match(/^ +\d+\.\ds {2}· \d+ calls\/s · ok /gm)?.length).toBeGreaterThanOrEqual(5);
    expect(out).toMatch(/^ {2}calls the breakers saved +[\d,]+$/m);
    expect(out).toContain(`  report: ${report}\n`);
    expect(existsSync(report)).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain('<svg class="timeline-chart"');
  }, 45_000);

  it('plays it with four client processes on one Redis (--fleet --quick): they open together, one node probes for all, no key is left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cbsuite-demo-fleet-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const report = join(dir, 'report.html');
    const redisUrl = inject('redisUrl');
    const { code, out, err } = await demoWith({ REDIS_URL: redisUrl }, '--fleet', '--quick', '--report', report);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).not.toContain('\x1b');

    const namespace = out.match(/^ {2}Redis \S+ \(REDIS_URL\), namespace (cbsuite-demo-[\w-]+) /m)?.[1];
    expect(namespace).toBeDefined();
    const steps = [
      /^ +0\.0s {2}3 healthy instances answering in 15 ms; 4 client processes call Say about 50\/s each \(200\/s in all\)/m,
      /^ +[\d.]+s {2}instance (127\.0\.0\.1:\d+) killed \(SIGKILL\)/m,
      /^ +[\d.]+s {2}instance 127\.0\.0\.1:\d+ respawned on the same port/m,
      /^ +[\d.]+s {2}the whole service turns slow and failing: .* stays CLOSED/m,
      /^ +[\d.]+s {2}publishServiceCBConfig\('demo-client\/echo\.v1\.Echo\/Say', \{ errRate: 0\.25 \}\) on client-1 at run time: errRate 0\.5 → 0\.25 for the whole fleet/m,
      /^ +[\d.]+s {2}the service recovers/m,
    ];
    const at = steps.map((re) => out.search(re));
    expect(at.every((i) => i >= 0)).toBe(true);
    expectScheduledOrder(at);

    // The new threshold reached every node through Redis.
    const reached = out.match(
      /^ +[\d.]+s {2}the new threshold reached every node: client-1 applied it at once and published it; (.*), through Redis$/m,
    );
    expect(reached?.[1]?.match(/client-\d/g)?.sort()).toEqual(['client-2', 'client-3', 'client-4']);
    expect(out.search(/the new threshold reached every node/)).toBeGreaterThan(at[4] as number);

    // Calls cut when the instance died were retried on another instance. (A call whose response headers came
    // before the connection dropped is not retried: the server may have run it. Rarely, one or two fail so.)
    const victim = out.match(steps[1] as RegExp)?.[1];
    const dead = out.match(
      new RegExp(`while ${victim} was dead \\([\\d.]+s → [\\d.]+s\\): (\\d+) of ([\\d,]+) calls failed`),
    );
    expect(Number(dead?.[1])).toBeLessThanOrEqual(Number(dead?.[2].replace(/,/g, '')) / 100);

    // After the threshold change the fleet opened together: each node OPEN once, by its own trip or from Redis.
    // Every node crosses the new threshold at once, so a node may trip before the others' reports reach it: it
    // opens alone, and its open becomes the fleet's at its next flush (the narration says so).
    const KEY = 'demo-client/echo.v1.Echo/Say';
    const after = out.slice(at[4]);
    const together = after.match(
      /^ +[\d.]+s {2}service breaker for demo-client\/echo\.v1\.Echo\/Say: the fleet opened together, (\d) of 4 nodes OPEN within ([\d.]+) ms \((.*)\)(?:; (.*) had opened alone before, and now (?:is|are) the fleet's too)?$/m,
    );
    expect(together).not.toBeNull();
    const wave = after.slice(0, after.indexOf(together?.[0] as string));
    const opens = [...wave.matchAll(/^ +[\d.]+s {2}service breaker OPEN for (\S+) on (client-\d)(.*)$/gm)];
    expect(opens.map((m) => m[1])).toEqual([KEY, KEY, KEY, KEY]);
    expect(opens.map((m) => m[2]).sort()).toEqual(['client-1', 'client-2', 'client-3', 'client-4']);
    const remote = opens.filter((m) => m[3]?.includes(': applied from the fleet (cause remote); it rejects calls too'));
    const tripped = opens.filter((m) => !remote.includes(m));
    const alone = tripped.filter((m) => m[3]?.includes('alone, not for the fleet'));
    const forFleet = tripped.filter((m) => !alone.includes(m));
    expect(opens[0]).toBe(tripped[0]);
    for (const m of forFleet)
      expect(m[3]).toMatch(
        /^: \d+% of the fleet's last \d+ calls failed \(trips at 25%\), with errors on [234] nodes: it opens for the whole fleet/,
      );
    expect(remote.length).toBeGreaterThanOrEqual(1);
    expect(tripped.length + remote.length).toBe(4);
    expect(Number(together?.[1]) + alone.length).toBe(4);
    expect(Number(together?.[2])).toBeLessThan(500);
    if (alone.length === 0) {
      expect(together?.[3]).toContain(
        remote.length === 3 ? `${opens[0]?.[2]} tripped; ` : 'tripped on their own counts',
      );
    } else {
      expect(together?.[3]).toMatch(/had opened alone a moment before; once the other nodes' reports reached|tripped/);
    }

    // One probe for the fleet: each time, one node goes HALFOPEN (the lease holder), the others stay OPEN.
    const halfOpens = [...after.matchAll(/^ +[\d.]+s {2}service breaker HALFOPEN for \S+ on (client-\d)(.*)$/gm)];
    expect(halfOpens.length).toBeGreaterThanOrEqual(1);
    for (const h of halfOpens)
      expect(h[2]).toMatch(/^: cooling is over and client-\d holds the fleet's probe lease, so it alone probes/);
    expect(out).toMatch(/^ {4}service breaker half-open \d+ times?: 1 node probed each time \(/m);
    // ... and its result closed them all, from Redis.
    const closed = [
      ...after.matchAll(
        /^ +[\d.]+s {2}service breaker for \S+: the fleet closed together, 4 of 4 nodes CLOSED within [\d.]+ ms \(only (client-\d) probed; (.*) followed from Redis\)$/gm,
      ),
    ];
    expect(closed.length).toBeGreaterThanOrEqual(1);
    const changes =
      out.match(/^ +[\d.]+s {2}service breaker (?:for \S+: the fleet )?(OPEN|HALFOPEN|CLOSED|opened|closed)\b/gm) ?? [];
    expect(changes.at(-1)).toMatch(/closed$/);

    // The summary's fleet facts, and the report's timeline say the same.
    expect(out).toMatch(/^ {2}the fleet: 4 client nodes, their breakers shared through Redis$/m);
    expect(out).toMatch(/^ {4}service breaker opened \d+ times?: on 4 of 4 nodes within [\d.]+ ms \(/m);
    expect(out).toContain(`  report: ${report}\n`);
    const html = readFileSync(report, 'utf8');
    const t = JSON.parse(
      (html.match(/<script type="application\/json" id="timeline-data">(.*?)<\/script>/s)?.[1] ?? '').replace(
        /\\u003c/g,
        '<',
      ),
    ) as Timeline;
    expect(t.mode).toBe('fleet');
    expect(t.nodes).toEqual(['client-1', 'client-2', 'client-3', 'client-4']);
    expect(html.match(/<svg class="timeline-chart"/g)).toHaveLength(4);
    const f = fleetFacts(t);
    const serviceOpens = f.waves.filter((w) => w.level === 'service' && w.to === 'OPEN');
    expect(serviceOpens.length).toBeGreaterThanOrEqual(1);
    for (const w of serviceOpens) expect(w.own.length + w.remote.length).toBe(4);
    const probes = f.probes.filter((p) => p.level === 'service');
    expect(probes.length).toBe(halfOpens.length);
    expect(probes.map((p) => p.probers.length)).toEqual(probes.map(() => 1));

    // The run's keys are gone from Redis.
    expect(out).toMatch(new RegExp(`^ {2}Redis namespace ${namespace}: deleted its \\d+ keys$`, 'm'));
    const redis = new Redis(redisUrl);
    cleanups.push(() => redis.disconnect());
    const left: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      left.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    expect(left).toEqual([]);
  }, 75_000);
});

// The steps are told in the script's order, except the respawn (steps[2]): it is told once the process listens,
// and the steps after it keep their times, so on a busy machine it may come after them (scenario.ts).
function expectScheduledOrder(at: number[]): void {
  const scheduled = at.filter((_, i) => i !== 2);
  expect(scheduled).toEqual([...scheduled].sort((a, b) => a - b));
  expect(at[2]).toBeGreaterThan(at[1] as number);
}
