import { int, logLine, pct } from './format.js';
import { RateMeter, sum } from './rates.js';
import type { WorldSnapshot } from './snapshot.js';
import type { Narration, View } from './view.js';

/**
 * One line summing up the world: the call rate and outcomes, then each
 * breaker's state (with several nodes: each service key with every node's
 * state, and each instance with its state where the nodes agree), for example
 * `· 200 calls/s · ok 4,980 · failed 0 · rejected 0 by service, 0 by instance breakers · retried 3 | demo-client/echo.v1.Echo/Say CLOSED 0.0% of 1000 (trips at 50%) | 127.0.0.1:41231 CLOSED, 127.0.0.1:41232 OPEN (down), ...`
 */
export function summaryLine(world: WorldSnapshot, callsPerSec: number): string {
  const c = sum(world.nodes.map((n) => n.counters));
  const parts = [
    `· ${int(callsPerSec)} calls/s · ok ${int(c.ok)} · failed ${int(c.failed)} · rejected ${int(c.rejectedService)} by ` +
      `service, ${int(c.rejectedInstance)} by instance breakers · retried ${int(c.retries)}`,
  ];
  const down = new Set(world.processes.filter((p) => !p.up).map((p) => p.address));
  const downText = (address: string) => (down.has(address) ? ' (down)' : '');
  if (world.nodes.length > 1) {
    parts.push(...serviceParts(world), instancePart(world, downText));
    return parts.join(' | ');
  }
  for (const n of world.nodes) {
    for (const s of n.services) {
      parts.push(
        `${s.key} ${s.state} ${pct(s.window.errorRate)} of ${s.window.samples} (trips at ${pct(s.threshold, 0)})`,
      );
    }
    parts.push(n.instances.map((i) => `${i.address} ${i.state}${downText(i.address)}`).join(', '));
  }
  return parts.join(' | ');
}

// Several nodes: each service key once, with every node's state and window.
function serviceParts(world: WorldSnapshot): string[] {
  const keys = [...new Set(world.nodes.flatMap((n) => n.services.map((s) => s.key)))];
  return keys.map((key) => {
    const views = world.nodes.flatMap((n) => n.services.filter((s) => s.key === key).map((s) => ({ node: n.node, s })));
    const thresholds = [...new Set(views.map((v) => pct(v.s.threshold, 0)))].join('/');
    const each = views.map((v) => `${v.node} ${v.s.state} ${pct(v.s.window.errorRate)} of ${v.s.window.samples}`);
    return `${key} ${each.join(', ')} (trips at ${thresholds})`;
  });
}

// Several nodes: each instance once, with its state when the nodes agree, else each state and its nodes.
function instancePart(world: WorldSnapshot, downText: (address: string) => string): string {
  const addresses = [...new Set(world.nodes.flatMap((n) => n.instances.map((i) => i.address)))];
  return addresses
    .map((address) => {
      const byState = new Map<string, string[]>();
      for (const n of world.nodes) {
        const i = n.instances.find((x) => x.address === address);
        if (i !== undefined) byState.set(i.state, [...(byState.get(i.state) ?? []), n.node]);
      }
      const states =
        byState.size === 1
          ? [...byState.keys()].join('')
          : [...byState].map(([state, nodes]) => `${state} (${nodes.join(', ')})`).join(' / ');
      return `${address} ${states}${downText(address)}`;
    })
    .join(', ');
}

/** The view without a terminal: narration and state changes as log lines, and a summary line every few seconds. */
export class PlainLog implements View {
  private readonly meter = new RateMeter();
  private nextSummaryMs: number;

  constructor(
    private readonly write: (line: string) => void,
    private readonly everyMs: number,
  ) {
    this.nextSummaryMs = everyMs;
  }

  narrate(n: Narration): void {
    this.write(logLine(n.atMs, n.text));
  }

  update(world: WorldSnapshot): void {
    this.meter.push(world.atMs, sum(world.nodes.map((n) => n.counters)));
    if (world.atMs < this.nextSummaryMs) return;
    this.nextSummaryMs += this.everyMs * (Math.floor((world.atMs - this.nextSummaryMs) / this.everyMs) + 1);
    this.write(logLine(world.atMs, summaryLine(world, this.meter.callsPerSecond())));
  }

  stop(world: WorldSnapshot): void {
    this.meter.push(world.atMs, sum(world.nodes.map((n) => n.counters)));
    this.write(logLine(world.atMs, summaryLine(world, this.meter.callsPerSecond())));
  }
}
