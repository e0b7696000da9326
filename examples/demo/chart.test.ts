import { describe, expect, it } from 'vitest';
import { esc, niceCeil, renderChart, tickStepMs } from './chart.js';
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
