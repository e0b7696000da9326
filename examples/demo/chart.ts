import type { Level, StateName } from '@cbsuite/testkit/node-stats.js';
import { secs } from './format.js';
import { serviceErrorRate } from './rates.js';
import { downSpans, type SecondSample, segments, type Timeline } from './timeline.js';

/** Geometry of the chart, in SVG units. */
const CHART = {
  width: 1100,
  left: 210,
  right: 60,
  markerRow: 20,
  phaseHeight: 22,
  rateHeight: 170,
  bandHeight: 16,
  bandGap: 6,
  axisHeight: 28,
} as const;

/** Fill of each breaker state on the bands. */
const STATE_COLOURS: Readonly<Record<StateName, string>> = {
  CLOSED: '#2da44e',
  HALFOPEN: '#d4a72c',
  OPEN: '#cf222e',
};

/** The lines of the node chart: colour and stroke. */
const LINES = {
  calls: { colour: '#0969da', stroke: 'stroke-width="2"' },
  error: { colour: '#cf222e', stroke: 'stroke-width="2"' },
  window: { colour: '#bc4c00', stroke: 'stroke-width="1.5" stroke-dasharray="1 3" stroke-linecap="round"' },
  threshold: { colour: '#6e7781', stroke: 'stroke-width="1.5" stroke-dasharray="6 4"' },
} as const;

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const num = (n: number) => (Math.round(n * 10) / 10).toString();

/**
 * The error line leaves out a second with fewer answered calls than this: a
 * rate of one or two answers (a probe while OPEN) is noise, and one failed
 * probe would read 100 %.
 */
export const MIN_ANSWERED = 5;

/** Half the length of the dash that draws a point with no neighbour on its line. */
const LONE_POINT = 3;

/**
 * SVG path data through `points`; an undefined value (nothing to measure that
 * second) leaves a gap. A point alone between gaps becomes a short dash: a
 * bare `M x,y` is a subpath of no length, which browsers do not draw.
 */
export function linePath(points: readonly (readonly [number, number | undefined])[]): string {
  const d: string[] = [];
  let run: [number, number][] = [];
  const flush = () => {
    if (run.length === 1) {
      const [px, py] = run[0] as [number, number];
      d.push(`M${num(px - LONE_POINT)},${num(py)} H${num(px + LONE_POINT)}`);
    } else d.push(...run.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${num(px)},${num(py)}`));
    run = [];
  };
  for (const [px, py] of points) {
    if (py === undefined) flush();
    else run.push([px, py]);
  }
  flush();
  return d.join(' ');
}

/** A round number at or above `n` whose quarters are round too, for an axis: 40, 80, 120, 160, 200, 240, 400, ... */
export function niceCeil(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8]) if (m * p >= n) return Number((m * p).toPrecision(6));
  return 10 * p;
}

/** Seconds between time ticks so that there are at most about a dozen. */
export function tickStepMs(durationMs: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300]) if (durationMs / (s * 1000) <= 12) return s * 1000;
  return 600_000;
}

/** The pattern of a process-down span, defined once per chart. */
const HATCH =
  '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
  '<rect width="6" height="6" fill="#24292f" opacity="0.55"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2" opacity="0.5"/>' +
  '</pattern></defs>';

/** The horizontal geometry of both charts: the plot's width, the run's duration, and the x of a time. */
function plotOf(t: Timeline): { plotW: number; duration: number; x: (ms: number) => number } {
  const c = CHART;
  const plotW = c.width - c.left - c.right;
  const duration = Math.max(1, t.durationMs);
  return { plotW, duration, x: (ms) => c.left + (Math.min(Math.max(ms, 0), duration) / duration) * plotW };
}

/** The phases of the script, as a row of labelled spans along the top of a chart. */
function phases(t: Timeline): string[] {
  const c = CHART;
  const { x } = plotOf(t);
  return t.phases.map((p, i) => {
    const x0 = x(p.startMs);
    const w = Math.max(0, x(p.endMs) - x0);
    const chars = Math.floor((w - 8) / 6.2);
    const label = chars >= p.label.length ? p.label : chars > 3 ? `${p.label.slice(0, chars - 1)}…` : '';
    return (
      `<g class="phase"><rect x="${num(x0)}" y="${c.markerRow}" width="${num(w)}" height="${c.phaseHeight}" ` +
      `fill="${i % 2 === 0 ? '#eaeef2' : '#f6f8fa'}"><title>${esc(`${p.label}: ${secs(p.startMs)} → ${secs(p.endMs)}`)}</title></rect>` +
      `<text x="${num(x0 + 4)}" y="${c.markerRow + 15}" class="phase-label">${esc(label)}</text></g>`
    );
  });
}

/**
 * The end of a chart whose rows stop at `bottom`: the time axis, the numbered
 * step markers, the pointer's hover area (the report's script shows the time
 * under it), and the closing tag.
 */
function axisAndMarkers(t: Timeline, bottom: number): string[] {
  const c = CHART;
  const { plotW, duration, x } = plotOf(t);
  const top = c.markerRow;
  const tick = tickStepMs(duration);
  const out: string[] = ['<g class="time-axis">'];
  for (let ms = 0; ms <= duration + 1; ms += tick) {
    out.push(
      `<line x1="${num(x(ms))}" x2="${num(x(ms))}" y1="${bottom + 2}" y2="${bottom + 7}" stroke="#57606a"/>`,
      `<text x="${num(x(ms))}" y="${bottom + 20}" text-anchor="middle" class="axis">${ms / 1000}s</text>`,
    );
  }
  out.push('</g>');
  t.steps.forEach((s, i) => {
    const mx = num(x(s.atMs));
    out.push(
      `<g class="marker" data-step="${i + 1}"><title>${esc(`${i + 1}. ${secs(s.atMs)} ${s.text}`)}</title>` +
        `<line x1="${mx}" x2="${mx}" y1="${c.markerRow - 2}" y2="${bottom}" stroke="#24292f" stroke-width="1" stroke-dasharray="3 3"/>` +
        `<circle cx="${mx}" cy="${c.markerRow / 2}" r="8" fill="#24292f"/>` +
        `<text x="${mx}" y="${c.markerRow / 2 + 4}" text-anchor="middle" class="marker-label">${i + 1}</text></g>`,
    );
  });
  out.push(
    `<line class="cursor" x1="0" x2="0" y1="${top}" y2="${bottom}" stroke="#57606a" visibility="hidden"/>`,
    `<rect class="hover-area" x="${c.left}" y="${top}" width="${plotW}" height="${bottom - top}" ` +
      `fill="transparent" data-left="${c.left}" data-width="${plotW}" data-duration="${duration}"/>`,
    '</svg>',
  );
  return out;
}

interface Row {
  readonly level: Level;
  readonly key: string;
  readonly label: string;
}

/**
 * The band of one node's breaker of `row`: its states along the run, and for
 * an instance, hatched where its process was down. On the fleet chart, bands
 * are thinner, labelled with their node and not "process down".
 */
function band(t: Timeline, node: string, row: Row, y: number, fleet: boolean): string[] {
  const { x } = plotOf(t);
  const height = fleet ? FLEET.bandHeight : CHART.bandHeight;
  const labelY = y + height - (fleet ? 2 : 4);
  const title = fleet ? `${node}, ${row.label}` : row.label;
  const out = [
    `<g class="band"${fleet ? ` data-node="${esc(node)}"` : ''} data-level="${row.level}" data-key="${esc(row.key)}">`,
    `<text x="${CHART.left - 8}" y="${labelY}" text-anchor="end" class="band-label">${esc(fleet ? node : row.label)}</text>`,
  ];
  for (const s of segments(t, node, row.level, row.key)) {
    out.push(
      `<rect class="band-segment" data-state="${s.state}" x="${num(x(s.startMs))}" y="${y}" ` +
        `width="${num(Math.max(0.5, x(s.endMs) - x(s.startMs)))}" height="${height}" fill="${STATE_COLOURS[s.state]}">` +
        `<title>${esc(`${title}: ${s.state} ${secs(s.startMs)} → ${secs(s.endMs)}`)}</title></rect>`,
    );
  }
  for (const d of row.level === 'instance' ? downSpans(t, row.key) : []) {
    const w = x(d.endMs) - x(d.startMs);
    out.push(
      `<rect class="down-span" x="${num(x(d.startMs))}" y="${y}" width="${num(w)}" height="${height}" fill="url(#hatch)">` +
        `<title>${esc(`${row.key}: process down ${secs(d.startMs)} → ${secs(d.endMs)}`)}</title></rect>`,
    );
    if (!fleet && w > 70) {
      out.push(`<text x="${num(x(d.startMs) + 4)}" y="${labelY}" class="down-label">process down</text>`);
    }
  }
  out.push('</g>');
  return out;
}

/** The rows of bands: each service key, then each instance (labelled with the level on the fleet chart). */
function rowsOf(t: Timeline, fleet: boolean): Row[] {
  return [
    ...t.services.map((key) => ({ level: 'service' as const, key, label: fleet ? `service ${key}` : key })),
    ...t.instances.map((key) => ({ level: 'instance' as const, key, label: `instance ${key}` })),
  ];
}

/** SVG path data of a step line: each value holds until the next one, the last one until `endX`. */
function stepPath(points: readonly (readonly [number, number])[], endX: number): string {
  const d = points.map(([px, py], i) => (i === 0 ? `M${num(px)},${num(py)}` : `H${num(px)} V${num(py)}`));
  return d.length === 0 ? '' : `${d.join(' ')} H${num(endX)}`;
}

/** One line of the node chart; none without path data. */
function line(kind: keyof typeof LINES, d: string): string {
  const { colour, stroke } = LINES[kind];
  return d === '' ? '' : `<path class="line-${kind}" d="${d}" fill="none" stroke="${colour}" ${stroke}/>`;
}

/**
 * The call rate and error rate per second of `node`, in a box from `top`
 * down: a grid with both axes, and per service key its breaker's window
 * error rate and its threshold.
 */
function rates(t: Timeline, node: string, top: number): string[] {
  const c = CHART;
  const { plotW, duration, x } = plotOf(t);
  const bottom = top + c.rateHeight;
  const seconds = t.seconds.filter((s) => s.node === node && s.ms > 0);
  const callsPerSec = seconds.map((s) => (s.counts.calls * 1000) / s.ms);
  const maxCalls = niceCeil(Math.max(1, ...callsPerSec) * 1.1);
  const yCalls = (v: number) => bottom - (v / maxCalls) * c.rateHeight;
  const yRate = (r: number) => bottom - Math.min(Math.max(r, 0), 1) * c.rateHeight;
  const out = ['<g class="rate-grid">'];
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const y = num(bottom - f * c.rateHeight);
    out.push(
      `<line x1="${c.left}" x2="${c.left + plotW}" y1="${y}" y2="${y}" stroke="#d0d7de" stroke-width="${f === 0 ? 1 : 0.5}"/>`,
      `<text x="${c.left - 6}" y="${y}" dy="4" text-anchor="end" class="axis calls-axis">${Math.round(f * maxCalls)}</text>`,
      `<text x="${c.left + plotW + 6}" y="${y}" dy="4" class="axis rate-axis">${Math.round(f * 100)}%</text>`,
    );
  }
  out.push(
    `<text x="${c.left - 6}" y="${c.markerRow + 15}" text-anchor="end" class="axis-title" fill="${LINES.calls.colour}">calls/s</text>`,
    `<text x="${c.left + plotW + 6}" y="${c.markerRow + 15}" class="axis-title" fill="${LINES.error.colour}">error</text>`,
    '</g>',
  );
  const mid = (s: SecondSample) => x(s.atMs - s.ms / 2);
  const errorAt = (s: SecondSample) =>
    s.counts.ok + s.counts.failed >= MIN_ANSWERED ? yRate(serviceErrorRate(s.counts)) : undefined;
  out.push(
    line('calls', linePath(seconds.map((s, i) => [mid(s), yCalls(callsPerSec[i] ?? 0)]))),
    line('error', linePath(seconds.map((s) => [mid(s), errorAt(s)]))),
  );
  for (const key of t.services) {
    // A window thinner than minSample cannot trip the breaker: its rate is left out.
    const windowAt = (s: SecondSample) => {
      const k = s.services[key];
      return k !== undefined && k.samples >= k.minSample ? yRate(k.errorRate) : undefined;
    };
    const thresholds = t.thresholds.filter((m) => m.node === node && m.key === key);
    out.push(
      line('window', linePath(seconds.map((s) => [x(s.atMs), windowAt(s)]))),
      line(
        'threshold',
        stepPath(
          thresholds.map((m) => [x(m.atMs), yRate(m.errRate)]),
          x(duration),
        ),
      ),
    );
  }
  return out;
}

/** A whole chart: the phases on top, then `rows` down to `bottom`, then the time axis and the step markers. */
function chartSvg(t: Timeline, cls: string, node: string, label: string, bottom: number, rows: string[]): string {
  const svg =
    `<svg class="${cls}" data-node="${esc(node)}" xmlns="http://www.w3.org/2000/svg" ` +
    `viewBox="0 0 ${CHART.width} ${bottom + CHART.axisHeight}" width="100%" role="img" aria-label="${label}">`;
  return [svg, HATCH, ...phases(t), ...rows, ...axisAndMarkers(t, bottom)].filter((s) => s !== '').join('\n');
}

/** The timeline of one client node as an SVG: its rates, then a band per breaker coloured by state. */
export function renderChart(t: Timeline, node: string): string {
  const c = CHART;
  const rateTop = c.markerRow + c.phaseHeight + 10;
  const bandTop = rateTop + c.rateHeight + 16;
  const rows = rowsOf(t, false);
  const rowY = (i: number) => bandTop + i * (c.bandHeight + c.bandGap);
  const bands = rows.flatMap((r, i) => band(t, node, r, rowY(i), false));
  const bottom = rowY(rows.length) - c.bandGap;
  return chartSvg(t, 'timeline-chart', node, esc(`Timeline of ${node}`), bottom, [
    ...rates(t, node, rateTop),
    ...bands,
  ]);
}

/** The legend under a chart, as HTML; without `lines`, the bands' colours only (for the fleet chart). */
export function legendHtml(lines = true): string {
  const swatch = (colour: string, label: string) =>
    `<span class="swatch"><i style="background:${colour}"></i>${esc(label)}</span>`;
  const lineSwatch = (kind: keyof typeof LINES, label: string, dash = false) =>
    `<span class="swatch"><b style="border-top:2px ${dash ? 'dashed' : 'solid'} ${LINES[kind].colour}"></b>${esc(label)}</span>`;
  const bands = [
    swatch(STATE_COLOURS.CLOSED, 'CLOSED: calls flow'),
    swatch(STATE_COLOURS.HALFOPEN, 'HALFOPEN: probing'),
    swatch(STATE_COLOURS.OPEN, 'OPEN: rejected / skipped'),
    swatch('repeating-linear-gradient(45deg,#24292f 0 3px,#8c959f 3px 6px)', 'process down'),
  ];
  if (!lines) return bands.join(' ');
  return [
    ...bands,
    lineSwatch('calls', 'calls/s (left axis)'),
    lineSwatch(
      'error',
      `error rate per second: failed ÷ answered, in seconds with at least ${MIN_ANSWERED} answers (right axis)`,
    ),
    lineSwatch('window', "service breaker's window error rate (when it holds ≥ minSample calls)", true),
    lineSwatch('threshold', 'its threshold (errRate)', true),
  ].join(' ');
}

/** Geometry of the fleet chart, in SVG units. */
const FLEET = { headHeight: 18, bandHeight: 12, bandGap: 3, groupGap: 10 } as const;

/**
 * A fleet run's breakers side by side: for each service key and instance, a
 * band per client node, so that the nodes opening together, and the one node
 * probing for the fleet, show at a glance.
 */
export function renderFleetChart(t: Timeline): string {
  const f = FLEET;
  const groups = rowsOf(t, true);
  const groupHeight = f.headHeight + t.nodes.length * (f.bandHeight + f.bandGap) - f.bandGap;
  const groupTop = (i: number) => CHART.markerRow + CHART.phaseHeight + 8 + i * (groupHeight + f.groupGap);
  const rows = groups.flatMap((g, gi) => {
    const top = groupTop(gi);
    const rowTop = (ni: number) => top + f.headHeight + ni * (f.bandHeight + f.bandGap);
    return [
      `<g class="fleet-group" data-level="${g.level}" data-key="${esc(g.key)}">`,
      `<text x="${CHART.left + 4}" y="${top + f.headHeight - 5}" class="axis-title">${esc(g.label)}</text>`,
      ...t.nodes.flatMap((node, ni) => band(t, node, g, rowTop(ni), true)),
      '</g>',
    ];
  });
  const bottom = groupTop(groups.length) - f.groupGap;
  return chartSvg(t, 'fleet-chart', '', "The fleet's breakers, node by node", bottom, rows);
}
