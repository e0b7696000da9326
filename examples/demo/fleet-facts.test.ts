import { describe, expect, it } from 'vitest';
import { fleetQuickRun } from './fixtures/quick-run.js';
import { fleetFacts, fleetSummaryLines } from './fleet-facts.js';
import { list } from './format.js';
import type { StateMark, Timeline } from './timeline.js';

const KEY = 'demo-client/echo.v1.Echo/Say';
const NODES = ['n1', 'n2', 'n3', 'n4'];

/** A fleet run of four nodes with only these state changes of the service key. */
function run(states: [number, string, StateMark['from'], StateMark['to'], string][]): Timeline {
  return {
    version: 1,
    title: 't',
    mode: 'fleet',
    startedAt: 0,
    durationMs: 20_000,
    nodes: NODES,
    services: [KEY],
    instances: [],
    phases: [],
    steps: [],
    states: states.map(([atMs, node, from, to, cause]) => ({
      atMs,
      node,
      level: 'service',
      key: KEY,
      from,
      to,
      cause,
      samples: 100,
      errorRate: 0.3,
      coolingMs: to === 'OPEN' ? 1000 : 0,
      fleet: true,
    })),
    thresholds: [],
    seconds: [],
    totals: {},
  };
}

describe('fleetFacts', () => {
  it('reads a recorded fleet run: every open and close reached all four nodes within milliseconds, one prober each time', () => {
    const f = fleetFacts(fleetQuickRun());
    expect(f.nodes).toEqual(['client-1', 'client-2', 'client-3', 'client-4']);
    const waves = f.waves.map((w) => [w.level, w.to, Math.round(w.startMs), w.spreadMs.toFixed(1), w.own, w.remote]);
    expect(waves).toEqual([
      ['instance', 'OPEN', 1741, '59.2', ['client-1'], ['client-4', 'client-3', 'client-2']],
      ['instance', 'CLOSED', 5246, '10.0', ['client-4'], ['client-2', 'client-3', 'client-1']],
      ['service', 'OPEN', 8528, '23.3', ['client-3'], ['client-4', 'client-1', 'client-2']],
      ['service', 'CLOSED', 9823, '6.5', ['client-3'], ['client-1', 'client-4', 'client-2']],
      ['service', 'OPEN', 9916, '1.8', ['client-2'], ['client-1', 'client-4', 'client-3']],
      ['service', 'CLOSED', 11027, '2.3', ['client-4'], ['client-2', 'client-1', 'client-3']],
    ]);
    expect(f.probes.map((p) => [p.level, Math.round(p.startMs), Math.round(p.endMs), p.probers, p.outcome])).toEqual([
      ['instance', 4994, 5246, ['client-4'], 'closed'],
      ['service', 9535, 9823, ['client-3'], 'closed'],
      ['service', 10789, 11027, ['client-4'], 'closed'],
    ]);
  });

  it('tells apart nodes that tripped at the same moment, and counts every node that probed in an episode', () => {
    const f = fleetFacts(
      run([
        [1000, 'n2', 'CLOSED', 'OPEN', 'trip'],
        [1001.5, 'n4', 'CLOSED', 'OPEN', 'trip'],
        [1002, 'n1', 'CLOSED', 'OPEN', 'remote'],
        [1003, 'n3', 'CLOSED', 'OPEN', 'remote'],
        [2000, 'n1', 'OPEN', 'HALFOPEN', 'cooled'],
        [2010, 'n3', 'OPEN', 'HALFOPEN', 'cooled'],
        [2100, 'n1', 'HALFOPEN', 'OPEN', 'probeFailed'],
        [2150, 'n3', 'HALFOPEN', 'OPEN', 'probeFailed'],
        [4000, 'n2', 'OPEN', 'HALFOPEN', 'cooled'],
        [4300, 'n2', 'HALFOPEN', 'CLOSED', 'probeSucceeded'],
        [4302, 'n1', 'OPEN', 'CLOSED', 'remote'],
        [4303, 'n3', 'OPEN', 'CLOSED', 'remote'],
        // n4 does not follow; n4 opens alone later, and the run ends while it probes.
        [9000, 'n4', 'OPEN', 'HALFOPEN', 'cooled'],
      ]),
    );
    expect(f.waves).toMatchObject([
      { to: 'OPEN', startMs: 1000, spreadMs: 3, own: ['n2', 'n4'], remote: ['n1', 'n3'] },
      { to: 'CLOSED', startMs: 4300, spreadMs: 3, own: ['n2'], remote: ['n1', 'n3'] },
    ]);
    expect(f.probes).toEqual([
      { level: 'service', key: KEY, startMs: 2000, endMs: 2150, probers: ['n1', 'n3'], outcome: 'reopened' },
      { level: 'service', key: KEY, startMs: 4000, endMs: 4300, probers: ['n2'], outcome: 'closed' },
      { level: 'service', key: KEY, startMs: 9000, endMs: 20_000, probers: ['n4'], outcome: 'unfinished' },
    ]);
  });

  it('keeps opens more than a second apart in separate waves', () => {
    const f = fleetFacts(
      run([
        [1000, 'n1', 'CLOSED', 'OPEN', 'trip'],
        [2500, 'n2', 'CLOSED', 'OPEN', 'trip'],
      ]),
    );
    expect(f.waves.map((w) => [w.startMs, w.own])).toEqual([
      [1000, ['n1']],
      [2500, ['n2']],
    ]);
  });
});

describe('fleetSummaryLines', () => {
  it('gives, per key, how far apart the nodes opened, how many probed, how far apart they closed', () => {
    expect(fleetSummaryLines(fleetFacts(fleetQuickRun()))).toEqual([
      '  the fleet: 4 client nodes, their breakers shared through Redis',
      '    service breaker opened 2 times: on 4 of 4 nodes within 23.3 ms (client-3 tripped, 3 followed from Redis); ' +
        'on 4 of 4 nodes within 1.8 ms (client-2 tripped, 3 followed from Redis)',
      "    service breaker half-open 2 times: 1 node probed each time (client-3, client-4), the holder of the fleet's probe lease",
      '    service breaker closed 2 times: on 4 of 4 nodes within 6.5 ms; on 4 of 4 nodes within 2.3 ms',
      '    instance breaker for 127.0.0.1:43541 opened 1 time: on 4 of 4 nodes within 59.2 ms (client-1 tripped, 3 followed from Redis)',
      "    instance breaker for 127.0.0.1:43541 half-open 1 time: 1 node probed each time (client-4), the holder of the fleet's probe lease",
      '    instance breaker for 127.0.0.1:43541 closed 1 time: on 4 of 4 nodes within 10.0 ms',
    ]);
  });

  it('says when several nodes tripped or probed', () => {
    const lines = fleetSummaryLines(
      fleetFacts(
        run([
          [1000, 'n2', 'CLOSED', 'OPEN', 'trip'],
          [1001, 'n4', 'CLOSED', 'OPEN', 'trip'],
          [1002, 'n1', 'CLOSED', 'OPEN', 'remote'],
          [2000, 'n1', 'OPEN', 'HALFOPEN', 'cooled'],
          [2010, 'n3', 'CLOSED', 'HALFOPEN', 'cooled'],
          [2100, 'n1', 'HALFOPEN', 'OPEN', 'probeFailed'],
          [2150, 'n3', 'HALFOPEN', 'OPEN', 'probeFailed'],
        ]),
      ),
    );
    expect(lines.slice(1)).toEqual([
      '    service breaker opened 1 time: on 3 of 4 nodes within 2.0 ms (2 tripped on their own, 1 followed from Redis)',
      '    service breaker half-open 1 time: nodes probing each time: 2 (n1 and n3)',
    ]);
  });
});

describe('list', () => {
  it('joins names as English does', () => {
    expect([list([]), list(['a']), list(['a', 'b']), list(['a', 'b', 'c'])]).toEqual([
      '',
      'a',
      'a and b',
      'a, b and c',
    ]);
  });
});
