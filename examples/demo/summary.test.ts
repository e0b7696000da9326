import { ZERO } from '@cbsuite/testkit/node-stats.js';
import { describe, expect, it } from 'vitest';
import { fleetQuickRun, quickRun } from './fixtures/quick-run.js';
import { failureShare, summarize, summaryLines } from './summary.js';
import { segments, type Timeline } from './timeline.js';

const KEY = 'demo-client/echo.v1.Echo/Say';

/** The quick run with its first half-open episode failing twice: OPEN three times before the first close. */
function reopened(): Timeline {
  const t = quickRun();
  const mark = (atMs: number, from: string, to: string, cause: string) =>
    ({ ...t.states[4], atMs, from, to, cause }) as Timeline['states'][number];
  const states = [...t.states];
  states.splice(
    5,
    0,
    mark(9650, 'HALFOPEN', 'OPEN', 'probeFailed'),
    mark(9700, 'OPEN', 'HALFOPEN', 'cooled'),
    mark(9750, 'HALFOPEN', 'OPEN', 'probeFailed'),
    mark(9800, 'OPEN', 'HALFOPEN', 'cooled'),
  );
  return { ...t, states };
}

describe('summary', () => {
  it('reads the numbers of a run off its timeline', () => {
    const f = summarize(quickRun());
    expect(f.totals).toMatchObject({ calls: 2704, ok: 2031, failed: 134, rejectedService: 539, skips: 19, retries: 2 });
    expect(f.serviceOpens).toBe(2);
    expect(f.instanceOpens).toBe(1);
    expect(f.lastServiceCloseMs).toBeCloseTo(11455.3, 1);
    expect(f.killed).toBe('127.0.0.1:39283');
    expect(f.phases.map((p) => p.name)).toEqual([
      'steady',
      'instance-down',
      'instance-back',
      'degraded',
      'threshold-lowered',
      'recovered',
    ]);
  });

  it('prints what the caller saw, what the breakers saved and why, phase by phase', () => {
    const lines = summaryLines(summarize(quickRun()), '/tmp/demo-report.html');
    expect(lines[0]).toBe('Summary (14.5s)');
    expect(lines).toContain('  calls made                  2,704   ok 2,031');
    expect(lines).toContain(
      '  calls the caller saw fail     673   134 failed by the service, 539 rejected at once by a breaker',
    );
    expect(lines).toContain('  calls the breakers saved      560');
    expect(lines.find((l) => l.includes('service-level rejections'))).toMatch(
      /^ {8}539 {2}service-level rejections +calls/,
    );
    expect(lines.find((l) => l.includes('instance-level skips'))).toMatch(/^ {9}19 /);
    expect(lines.find((l) => l.includes('retries on another instance'))).toMatch(/^ {10}2 .*never saw them fail$/);
    expect(lines).toContain(
      '  while 127.0.0.1:39283 was dead (1.5s → 4.0s): 0 of 482 calls failed for the caller; 2 attempts were retried on another instance',
    );
    expect(lines).toContain('  service breaker opened 2 times, last closed at 11.5s; instance breakers opened 1 time');
    expect(lines).toContain(
      '    instance down        1.5s → 4.0s    482 calls · ok 482 · failed 0 · rejected 0 · retried 2  (failed 0%)',
    );
    expect(lines[lines.length - 1]).toBe('  report: /tmp/demo-report.html');
    expect(summaryLines(summarize(quickRun()), undefined).at(-1)).toBe('  report: skipped (--no-report)');
  });

  it('with several nodes, counts the breakers of all nodes and adds what the fleet did together', () => {
    const f = summarize(fleetQuickRun());
    expect(f.nodes).toBe(4);
    expect(f.fleet?.waves).toHaveLength(6);
    const lines = summaryLines(f, undefined);
    const at = lines.indexOf('  the fleet: 4 client nodes, their breakers shared through Redis');
    expect(lines[at - 1]).toBe(
      '  service breakers opened 8 times on 4 nodes in all, last closed at 11.0s; instance breakers opened 4 times on 4 nodes in all',
    );
    expect(lines[at + 1]).toMatch(
      /^ {4}service breaker opened 2 times: on 4 of 4 nodes within 23\.3 ms \(client-3 tripped/,
    );
    expect(lines[at + 7]).toBe('  by phase:');
    expect(summarize(quickRun()).fleet).toBeUndefined();
  });
});

describe('the summary counts what the viewer sees', () => {
  it('counts every entry into OPEN, reopenings included: one per OPEN span on the bands', () => {
    const t = reopened();
    const f = summarize(t);
    const bands = segments(t, 'client-1', 'service', KEY).filter((s) => s.state === 'OPEN').length;
    expect(bands).toBe(4);
    expect(f.serviceOpens).toBe(bands);
    expect(summaryLines(f, undefined)).toContain(
      '  service breaker opened 4 times, last closed at 11.5s; instance breakers opened 1 time',
    );
  });

  it("says how a phase's calls failed for the caller: rejected calls are not a phase where nothing failed", () => {
    expect(failureShare({ ...ZERO, calls: 1810, ok: 13, rejectedService: 1797 })).toBe('failed 0%, rejected 99%');
    expect(failureShare({ ...ZERO, calls: 100, ok: 83, failed: 17 })).toBe('failed 17%');
    expect(failureShare(ZERO)).toBe('failed 0%');
    const lines = summaryLines(summarize(quickRun()), undefined);
    expect(lines.find((l) => l.startsWith('    threshold lowered'))).toMatch(/ \(failed \d+%, rejected \d+%\)$/);
  });
});
