import { describe, expect, it } from 'vitest';
import { type FleetChange, FleetNarrator, REORDER_MS, WAVE_MS } from './fleet-narrator.js';

const KEY = 'demo-client/echo.v1.Echo/Say';
const ADDR = '127.0.0.1:41001';
const NODES = ['client-1', 'client-2', 'client-3', 'client-4'];

function change(atMs: number, node: string, from: FleetChange['from'], to: FleetChange['to'], cause: string) {
  return {
    node,
    atMs,
    level: 'service',
    key: KEY,
    from,
    to,
    cause,
    fleet: true,
    coolingMs: to === 'OPEN' ? 1000 : 0,
    own: { samples: 60, failures: 21, errorRate: 0.35 },
    conseErrors: 1,
    fleetWindow: { samples: 240, failures: 84, errorRate: 0.35, failingNodes: 4 },
    errRate: 0.25,
  } satisfies FleetChange;
}

/** Tells every change, then drains once they are old enough; returns the lines. */
function tell(changes: readonly FleetChange[], nowMs = Math.max(...changes.map((c) => c.atMs)) + REORDER_MS): string[] {
  const n = new FleetNarrator(NODES, 200);
  for (const c of changes) n.push(c);
  return n.drain(nowMs).map((x) => `${x.atMs} ${x.text}`);
}

describe('FleetNarrator', () => {
  it('tells one node tripping and the others following from Redis, then the fleet open together', () => {
    expect(
      tell([
        change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'),
        change(1002.5, 'client-1', 'CLOSED', 'OPEN', 'remote'),
        change(1003, 'client-2', 'CLOSED', 'OPEN', 'remote'),
        change(1004, 'client-4', 'CLOSED', 'OPEN', 'remote'),
      ]),
    ).toEqual([
      `1000 service breaker OPEN for ${KEY} on client-3: 35% of the fleet's last 240 calls failed (trips at 25%), ` +
        'with errors on 4 nodes: it opens for the whole fleet, and Redis tells the other nodes; calls are now ' +
        'rejected at once, without reaching the service; next probe in 1.0s',
      `1002.5 service breaker OPEN for ${KEY} on client-1, 2.5 ms after client-3: applied from the fleet (cause remote); it rejects calls too`,
      `1003 service breaker OPEN for ${KEY} on client-2, 3.0 ms after client-3: applied from the fleet (cause remote); it rejects calls too`,
      `1004 service breaker OPEN for ${KEY} on client-4, 4.0 ms after client-3: applied from the fleet (cause remote); it rejects calls too`,
      `1004 service breaker for ${KEY}: the fleet opened together, 4 of 4 nodes OPEN within 4.0 ms ` +
        '(client-3 tripped; client-1, client-2 and client-4 followed from Redis)',
    ]);
  });

  it('tells changes in the order they happened, once they are old enough', () => {
    const n = new FleetNarrator(NODES, 200);
    // From several processes, a remote open may arrive before the trip it follows.
    n.push(change(1002, 'client-1', 'CLOSED', 'OPEN', 'remote'));
    n.push(change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'));
    expect(n.drain(1000 + REORDER_MS - 1)).toEqual([]);
    const lines = n.drain(1002 + REORDER_MS).map((x) => x.text);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^service breaker OPEN for ${KEY} on client-3: 35% of the fleet's`));
    expect(lines[1]).toMatch(
      new RegExp(`^service breaker OPEN for ${KEY} on client-1, 2\\.0 ms after client-3: applied`),
    );
  });

  it('tells a node that tripped on its own before the fleet open reached it', () => {
    const lines = tell([
      change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'),
      change(1001, 'client-4', 'CLOSED', 'OPEN', 'trip'),
      change(1002, 'client-1', 'CLOSED', 'OPEN', 'remote'),
      change(1003, 'client-2', 'CLOSED', 'OPEN', 'remote'),
    ]);
    expect(lines[1]).toBe(
      `1001 service breaker OPEN for ${KEY} on client-4 too, 1.0 ms after client-3: it tripped on its own counts ` +
        "(35% of the fleet's last 240 calls failed) before the fleet's open reached it",
    );
    expect(lines[4]).toBe(
      `1003 service breaker for ${KEY}: the fleet opened together, 4 of 4 nodes OPEN within 3.0 ms (client-3 and ` +
        'client-4 tripped on their own counts at nearly the same moment, before Redis told them; client-1 and client-2 followed from Redis)',
    );
  });

  it('tells a wave short of some node once it has waited long enough', () => {
    const n = new FleetNarrator(NODES, 200);
    n.push(change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'));
    n.push(change(1002, 'client-1', 'CLOSED', 'OPEN', 'remote'));
    expect(n.drain(1002 + REORDER_MS)).toHaveLength(2);
    expect(n.drain(1000 + WAVE_MS + REORDER_MS)).toEqual([]);
    expect(n.drain(1001 + WAVE_MS + REORDER_MS).map((x) => x.text)).toEqual([
      `service breaker for ${KEY}: 2 of 4 nodes OPEN within 2.0 ms of client-3 (client-3 tripped; client-1 followed ` +
        'from Redis); client-2 and client-4 did not follow',
    ]);
    // A node that follows later is told alone: it starts no wave of its own.
    n.push(change(1700, 'client-2', 'CLOSED', 'OPEN', 'remote'));
    expect(n.flush().map((x) => x.text)).toEqual([
      `service breaker OPEN for ${KEY} on client-2: applied from the fleet (cause remote); it rejects calls too`,
    ]);
  });

  it('tells a node that opened alone before, which the fleet open takes over', () => {
    const lines = tell([
      { ...change(500, 'client-1', 'CLOSED', 'OPEN', 'trip'), fleet: false },
      change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'),
      change(1002, 'client-2', 'CLOSED', 'OPEN', 'remote'),
      change(1003, 'client-4', 'CLOSED', 'OPEN', 'remote'),
    ]);
    expect(lines[0]).toMatch(/on client-1: .*; it opens on client-1 alone, not for the fleet, and probes alone$/);
    expect(lines.at(-1)).toBe(
      `1003 service breaker for ${KEY}: the fleet opened together, 3 of 4 nodes OPEN within 3.0 ms (client-3 tripped; ` +
        "client-2 and client-4 followed from Redis); client-1 had opened alone before, and now is the fleet's too",
    );
  });

  it('tells a node that trips alone while the fleet opens as taken over, not as one of the wave', () => {
    const lines = tell([
      change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'),
      change(1001, 'client-2', 'CLOSED', 'OPEN', 'remote'),
      { ...change(1002, 'client-1', 'CLOSED', 'OPEN', 'trip'), fleet: false },
      change(1003, 'client-4', 'CLOSED', 'OPEN', 'remote'),
    ]);
    expect(lines[2]).toMatch(/^1002 service breaker OPEN for \S+ on client-1: .*; it opens on client-1 alone, not for/);
    expect(lines.at(-1)).toBe(
      `1003 service breaker for ${KEY}: the fleet opened together, 3 of 4 nodes OPEN within 3.0 ms (client-3 tripped; ` +
        "client-2 and client-4 followed from Redis); client-1 had opened alone before, and now is the fleet's too",
    );
    expect(lines).toHaveLength(5);
  });

  it("tells a node's open that becomes the fleet's once the others' reports reach it", () => {
    const lines = tell([
      { ...change(500, 'client-1', 'CLOSED', 'OPEN', 'trip'), fleet: false },
      change(700, 'client-3', 'CLOSED', 'OPEN', 'remote'),
      change(702, 'client-2', 'CLOSED', 'OPEN', 'remote'),
      change(703, 'client-4', 'CLOSED', 'OPEN', 'remote'),
    ]);
    expect(lines.at(-1)).toBe(
      `703 service breaker for ${KEY}: the fleet opened together, 3 of 4 nodes OPEN within 3.0 ms (client-1 had ` +
        "opened alone a moment before; once the other nodes' reports reached it, its open became the fleet's; " +
        'client-3, client-2 and client-4 followed from Redis)',
    );
  });

  it('tells the one node that probes for the fleet, and the result closing every node', () => {
    const lines = tell([
      change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'),
      change(1001, 'client-1', 'CLOSED', 'OPEN', 'remote'),
      change(1002, 'client-2', 'CLOSED', 'OPEN', 'remote'),
      change(1003, 'client-4', 'CLOSED', 'OPEN', 'remote'),
      change(2000, 'client-2', 'OPEN', 'HALFOPEN', 'cooled'),
      { ...change(2100, 'client-2', 'HALFOPEN', 'OPEN', 'probeFailed'), coolingMs: 2000 },
      change(4100, 'client-4', 'OPEN', 'HALFOPEN', 'cooled'),
      change(4500, 'client-4', 'HALFOPEN', 'CLOSED', 'probeSucceeded'),
      change(4501.2, 'client-1', 'OPEN', 'CLOSED', 'remote'),
      change(4502, 'client-3', 'OPEN', 'CLOSED', 'remote'),
      change(4503, 'client-2', 'OPEN', 'CLOSED', 'remote'),
    ]).slice(5);
    expect(lines).toEqual([
      `2000 service breaker HALFOPEN for ${KEY} on client-2: cooling is over and client-2 holds the fleet's probe ` +
        'lease, so it alone probes (one probe call every 200 ms); client-1, client-3 and client-4 stay OPEN and keep ' +
        "rejecting until the probe's result comes",
      `2100 service breaker OPEN for ${KEY} on client-2 again: the probe failed; the whole fleet stays OPEN and cools again; next probe in 2.0s (backoff)`,
      `4100 service breaker HALFOPEN for ${KEY} on client-4: cooling is over and client-4 holds the fleet's probe ` +
        'lease, so it alone probes (one probe call every 200 ms); client-1, client-2 and client-3 stay OPEN and keep ' +
        "rejecting until the probe's result comes",
      `4500 service breaker CLOSED for ${KEY} on client-4: probes succeeded; Redis tells the other nodes to close; ` +
        'calls reach the service again (the window starts afresh)',
      `4501.2 service breaker CLOSED for ${KEY} on client-1, 1.2 ms after client-4: applied from the fleet (cause remote); calls reach the service again`,
      `4502 service breaker CLOSED for ${KEY} on client-3, 2.0 ms after client-4: applied from the fleet (cause remote); calls reach the service again`,
      `4503 service breaker CLOSED for ${KEY} on client-2, 3.0 ms after client-4: applied from the fleet (cause remote); calls reach the service again`,
      `4503 service breaker for ${KEY}: the fleet closed together, 4 of 4 nodes CLOSED within 3.0 ms (only client-4 ` +
        'probed; client-1, client-3 and client-2 followed from Redis)',
    ]);
  });

  it('says so when a second node goes HALFOPEN while one probes', () => {
    const lines = tell([
      change(2000, 'client-2', 'OPEN', 'HALFOPEN', 'cooled'),
      change(2010, 'client-3', 'OPEN', 'HALFOPEN', 'cooled'),
    ]);
    expect(lines[1]).toBe(`2010 service breaker HALFOPEN for ${KEY} on client-3 too, while client-2 probes`);
  });

  it('tells the instance level in its own words, and an open a node decided alone', () => {
    const instance = (c: FleetChange): FleetChange => ({ ...c, level: 'instance', key: ADDR, conseErrors: 3 });
    const lines = tell([
      instance(change(1000, 'client-1', 'CLOSED', 'OPEN', 'trip')),
      instance(change(1003, 'client-2', 'CLOSED', 'OPEN', 'remote')),
      instance(change(2000, 'client-2', 'OPEN', 'HALFOPEN', 'cooled')),
      { ...change(3000, 'client-4', 'CLOSED', 'OPEN', 'trip'), fleet: false },
    ]);
    expect(lines).toEqual([
      `1000 instance breaker OPEN for ${ADDR} on client-1: 3 attempts or connections in a row failed: it opens for ` +
        'the whole fleet, and Redis tells the other nodes; picks skip it, so calls go to the other instances; next probe in 1.0s',
      `1003 instance breaker OPEN for ${ADDR} on client-2, 3.0 ms after client-1: applied from the fleet (cause remote); its picks skip the instance too`,
      `1003 instance breaker for ${ADDR}: 2 of 4 nodes OPEN within 3.0 ms of client-1 (client-1 tripped; client-2 ` +
        'followed from Redis); client-3 and client-4 did not follow',
      `2000 instance breaker HALFOPEN for ${ADDR} on client-2: cooling is over and client-2 holds the fleet's probe ` +
        'lease, so it alone probes (its next pick of the instance is a probe call); client-1, client-3 and client-4 ' +
        "keep skipping it until the probe's result comes",
      `3000 service breaker OPEN for ${KEY} on client-4: 35% of its last 60 calls failed (trips at 25%); calls are ` +
        'now rejected at once, without reaching the service; next probe in 1.0s; it opens on client-4 alone, not for ' +
        'the fleet, and probes alone',
    ]);
  });

  it('tells every wave as it stands at the end', () => {
    const n = new FleetNarrator(NODES, 200);
    n.push(change(1000, 'client-3', 'CLOSED', 'OPEN', 'trip'));
    const lines = n.flush().map((x) => x.text);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/without reaching the service; next probe in 1\.0s$/);
    expect(lines[1]).toBe(
      `service breaker for ${KEY}: 1 of 4 nodes OPEN within 0.0 ms of client-3 (client-3 tripped); ` +
        'client-1, client-2 and client-4 did not follow',
    );
  });
});
