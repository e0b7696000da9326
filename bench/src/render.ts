// The tables of a benchmark run. A full run shows each figure with its
// ratios and the goal it is held to; a smoke run (`--smoke`: each case once,
// briefly, to prove the benchmarks still work) shows its figures without
// goals, under a notice that they are not measurements.
import { fmtNs, fmtRatio, table } from './harness.js';
import type { Group } from './suites.js';

/** Printed before a smoke run's tables. */
export const SMOKE_NOTICE =
  'SMOKE RUN: each case runs once, briefly, to prove the benchmarks still work. ' +
  'Its figures are not measurements and are held to no goal; `pnpm bench` measures.';

/** A figure in its unit, for a table. */
export function fmt(unit: Group['unit'], v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  switch (unit) {
    case 'ns':
      return fmtNs(v);
    case 'us':
      return `${v.toFixed(v < 10 ? 2 : 1)} µs`;
    case 'bytes':
      return `${(v / 1024).toFixed(2)} KiB`;
    case 'rate':
      return `${Math.round(v).toLocaleString('en-US')} /s`;
    case 'perSec':
      return `${v.toFixed(v < 10 ? 2 : 1)} /s`;
    case 'ms':
      return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
    case 'count':
      return Math.round(v).toLocaleString('en-US');
    case 'ratio':
      return fmtRatio(v);
    case 'pct':
      return `${v.toFixed(v < 10 ? 2 : 1)} %`;
  }
}

/** One group's table, with its note. */
export function render(group: Group, results: ReadonlyMap<string, number>, smoke = false): string {
  const peerNames = Object.keys(group.peers);
  const header = [
    'case',
    smoke ? 'smoke figure' : group.unit === 'ns' ? 'median / op' : 'median',
    '× baseline',
    ...peerNames.map((p) => `× ${p}`),
    ...(smoke ? [] : ['goal']),
  ];
  const hasRatios = group.rows.some((r) => r.baseline !== undefined);
  const rows = group.rows.map((row) => {
    const v = results.get(row.id) ?? Number.NaN;
    const base = row.baseline === undefined ? Number.NaN : v / (results.get(row.baseline) ?? Number.NaN);
    const peers = peerNames.map((p) =>
      row.vsPeers ? fmtRatio(v / (results.get(group.peers[p] as string) ?? Number.NaN)) : '',
    );
    const unit = row.unit ?? group.unit;
    return [row.label, fmt(unit, v), fmtRatio(base), ...peers, ...(smoke ? [] : [row.goal ?? ''])];
  });
  const shown = hasRatios ? header : header.filter((_, i) => i !== 2);
  const cells = hasRatios ? rows : rows.map((r) => r.filter((_, i) => i !== 2));
  return `### ${group.title}\n\n${table(shown, cells)}${group.note ? `\n\n${group.note}` : ''}`;
}
