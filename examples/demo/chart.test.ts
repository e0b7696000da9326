import { describe, expect, it } from 'vitest';
import { esc, linePath, MIN_ANSWERED, niceCeil, renderChart, tickStepMs } from './chart.js';
import { quickRun } from './fixtures/quick-run.js';

const count = (s: string, re: RegExp) => s.match(re)?.length ?? 0;

describe('chart helpers', () => {
  it('rounds an axis up to a number with round quarters', () => {
    expect([0, 1, 9, 50, 183, 200, 220, 230, 900].map(niceCeil)).toEqual([1, 1, 10, 60, 200, 200, 240, 240, 1000]);
  });

  it('spaces time ticks so that there are a dozen at most', () => {
    expect(tickStepMs(14_500)).toBe(2000);
    expect(tickStepMs(50_000)).toBe(5000);
    expect(tickStepMs(5000)).toBe(1000);
  });

  it('escapes text for HTML and SVG', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });
});

describe('renderChart', () => {
  const t = quickRun();
  const svg = renderChart(t, 'client-1');

  it('draws a band per service key and per instance, a segment per state', () => {
    expect(count(svg, /<g class="band"/g)).toBe(1 + 3);
    // CLOSED for each of 4 rows, plus the instance's OPEN, HALFOPEN, CLOSED and the service's 6 changes.
    expect(count(svg, /class="band-segment"/g)).toBe(4 + 3 + 6);
    expect(count(svg, /data-state="OPEN"/g)).toBe(3);
    expect(count(svg, /data-state="HALFOPEN"/g)).toBe(3);
    expect(count(svg, /class="down-span"/g)).toBe(1);
  });

  it('draws the rate lines, the threshold and a marker per step', () => {
    for (const cls of ['line-calls', 'line-error', 'line-window', 'line-threshold']) {
      expect(svg).toMatch(new RegExp(`<path class="${cls}" d="M[0-9.]+,[0-9.]+ `));
    }
    expect(count(svg, /<g class="marker"/g)).toBe(t.steps.length);
    expect(count(svg, /<g class="phase"/g)).toBe(t.phases.length);
  });

  it('leaves a gap in the error line for seconds when the service answered nothing', () => {
    const quiet = {
      ...t,
      seconds: t.seconds.map((s, i) => (i === 9 ? { ...s, counts: { ...s.counts, ok: 0, failed: 0 } } : s)),
    };
    const d = renderChart(quiet, 'client-1').match(/<path class="line-error" d="([^"]+)"/)?.[1] ?? '';
    expect(count(d, /M/g)).toBe(2);
  });
});

describe('the error line draws what a viewer can read', () => {
  const t = quickRun();
  const errorLine = (tl: typeof t) =>
    renderChart(tl, 'client-1').match(/<path class="line-error" d="([^"]+)"/)?.[1] ?? '';
  const withSecond = (i: number, ok: number, failed: number) => ({
    ...t,
    seconds: t.seconds.map((s, j) => (j === i ? { ...s, counts: { ...s.counts, ok, failed } } : s)),
  });

  it(`leaves out a second with fewer than ${MIN_ANSWERED} answers: one failed probe draws no 100% spike`, () => {
    expect(errorLine(withSecond(9, 0, 1))).toBe(errorLine(withSecond(9, 0, 0)));
    expect(errorLine(withSecond(9, 0, MIN_ANSWERED))).not.toBe(errorLine(withSecond(9, 0, 0)));
  });

  it('draws a second with answers between two without as a short dash, never a bare M a browser does not draw', () => {
    // Second 8 answered; 7 did not, and 9 answered only 4 calls.
    const d = errorLine(withSecond(7, 0, 0));
    const subpaths = d.split(/(?=M)/);
    expect(subpaths).toHaveLength(3);
    for (const sp of subpaths) expect(sp).toMatch(/^M[\d.]+,[\d.]+ [LH]/);
  });

  it('linePath: runs of points, gaps, and lone points as dashes', () => {
    expect(linePath([])).toBe('');
    expect(linePath([[10, 5]])).toBe('M7,5 H13');
    expect(
      linePath([
        [10, 5],
        [20, undefined],
        [30, 1],
        [40, 2],
      ]),
    ).toBe('M7,5 H13 M30,1 L40,2');
  });
});
