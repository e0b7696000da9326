import { describe, expect, it } from 'vitest';
import { PlainLog, summaryLine } from './plain-log.js';
import { A, B, KEY, node, world } from './test-worlds.js';

describe('summaryLine', () => {
  it('sums up calls and every breaker in one line', () => {
    const w = world({
      atMs: 21_000,
      counters: { calls: 4210, ok: 3890, failed: 312, rejectedService: 5, retries: 7 },
      instances: { [B]: 'OPEN' },
      down: [B],
    });
    expect(summaryLine(w, 201.4)).toBe(
      '· 201 calls/s · ok 3,890 · failed 312 · rejected 5 by service, 0 by instance breakers · retried 7 | ' +
        `${KEY} CLOSED 5.0% of 400 (trips at 50%) | ${A} CLOSED, ${B} OPEN (down)`,
    );
  });

  it('with several nodes, gives each key once with the state on every node, and instances where the nodes agree', () => {
    const w = world({ atMs: 1000, down: [B] });
    const two = {
      ...w,
      nodes: [
        node({ atMs: 1000, node: 'n1', instances: { [B]: 'HALFOPEN' } }),
        node({ atMs: 1000, node: 'n2', service: 'OPEN', instances: { [B]: 'OPEN' } }),
      ],
    };
    expect(summaryLine(two, 100)).toBe(
      '· 100 calls/s · ok 0 · failed 0 · rejected 0 by service, 0 by instance breakers · retried 0 | ' +
        `${KEY} n1 CLOSED 5.0% of 400, n2 OPEN 5.0% of 400 (trips at 50%) | ` +
        `${A} CLOSED, ${B} HALFOPEN (n1) / OPEN (n2) (down)`,
    );
  });
});

describe('PlainLog', () => {
  it('prints narration at once and a summary every few seconds, without escape codes', () => {
    const lines: string[] = [];
    const log = new PlainLog((l) => lines.push(l), 2000);
    log.narrate({ atMs: 1500, kind: 'step', text: `instance ${B} killed (SIGKILL)` });
    log.narrate({ atMs: 1620, kind: 'state', text: 'instance breaker OPEN', state: 'OPEN' });
    for (let t = 0; t <= 5000; t += 200) log.update(world({ atMs: t, counters: { calls: t / 5, ok: t / 5 } }));
    log.stop(world({ atMs: 5100, counters: { calls: 1020, ok: 1020 } }));
    expect(lines.slice(0, 2)).toEqual([`   1.5s  instance ${B} killed (SIGKILL)`, '   1.6s  instance breaker OPEN']);
    expect(lines.slice(2).map((l) => l.slice(0, 9))).toEqual(['   2.0s  ', '   4.0s  ', '   5.1s  ']);
    expect(lines[3]).toContain('· 200 calls/s · ok 800');
    expect(lines.join('\n')).not.toContain('\x1b');
  });

  it('does not repeat summaries after a stall', () => {
    const lines: string[] = [];
    const log = new PlainLog((l) => lines.push(l), 2000);
    log.update(world({ atMs: 1000 }));
    log.update(world({ atMs: 7000 }));
    log.update(world({ atMs: 7200 }));
    log.update(world({ atMs: 8000 }));
    expect(lines.map((l) => l.slice(0, 7))).toEqual(['   7.0s', '   8.0s']);
  });
});
