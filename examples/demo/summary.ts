import type { Counters } from '@cbsuite/testkit/node-stats.js';
import { type FleetFacts, fleetFacts, fleetSummaryLines } from './fleet-facts.js';
import { int, pct, plural, secs } from './format.js';
import { ended, rejected, sum } from './rates.js';
import type { PhaseSpan, Timeline } from './timeline.js';

/** One phase of the run and what the calls did during it (all nodes together). */
export interface PhaseFacts extends Omit<PhaseSpan, 'counts'> {
  readonly counts: Counters;
}

/** The run in numbers. */
export interface SummaryFacts {
  readonly durationMs: number;
  /** Client nodes. */
  readonly nodes: number;
  /** All nodes together. */
  readonly totals: Counters;
  readonly phases: readonly PhaseFacts[];
  /**
   * Times a service breaker entered OPEN (a trip, or a failed probe that
   * reopened it: each is an OPEN span on the bands), and the last time one closed.
   */
  readonly serviceOpens: number;
  readonly lastServiceCloseMs: number | undefined;
  /** Times an instance breaker entered OPEN. */
  readonly instanceOpens: number;
  /** The instance that was killed, if one was. */
  readonly killed: string | undefined;
  /** With several nodes: what their breakers did together. */
  readonly fleet?: FleetFacts;
}

/** Reads the run's numbers off its timeline. */
export function summarize(t: Timeline): SummaryFacts {
  const closes = t.states.filter((s) => s.level === 'service' && s.to === 'CLOSED').map((s) => s.atMs);
  return {
    durationMs: t.durationMs,
    nodes: t.nodes.length,
    totals: sum(Object.values(t.totals)),
    phases: t.phases.map((p) => ({ ...p, counts: sum(Object.values(p.counts)) })),
    serviceOpens: t.states.filter((s) => s.level === 'service' && s.to === 'OPEN').length,
    lastServiceCloseMs: closes.length > 0 ? closes[closes.length - 1] : undefined,
    instanceOpens: t.states.filter((s) => s.level === 'instance' && s.to === 'OPEN').length,
    killed: t.steps.find((s) => s.kind === 'kill')?.target,
    ...(t.nodes.length > 1 ? { fleet: fleetFacts(t) } : {}),
  };
}

/** What each kind of saved call means, for the summary and the report. */
export const SAVED_EXPLAINED = {
  rejectedService:
    'calls the service breaker rejected while OPEN: they failed at once instead of waiting on a service that was failing',
  skips: 'picks the instance breaker moved off a tripped instance (dead or reconnecting) to a healthy one',
  rejectedInstance: 'calls failed at once because every instance was tripped (none here is expected)',
  retries: 'attempts cut when the instance died, retried on another instance: the caller never saw them fail',
} as const;

/** `1,200 calls · ok 1,200 · failed 0 · rejected 0 · retried 3`, counting the calls that ended in the span. */
export function phaseCounts(c: Counters): string {
  return (
    `${int(ended(c))} calls · ok ${int(c.ok)} · failed ${int(c.failed)} · rejected ${int(rejected(c))} · ` +
    `retried ${int(c.retries)}`
  );
}

/**
 * What share of a span's calls the caller saw fail, and how: `failed 17%`,
 * or `failed 0%, rejected 99%` when breakers rejected some (a phase spent
 * OPEN is not a phase where nothing failed).
 */
export function failureShare(c: Counters): string {
  const n = ended(c);
  const share = (x: number) => pct(n === 0 ? 0 : x / n, 0);
  const r = rejected(c);
  return r === 0 ? `failed ${share(c.failed)}` : `failed ${share(c.failed)}, rejected ${share(r)}`;
}

/** The summary printed at the end of a run. */
export function summaryLines(f: SummaryFacts, reportPath: string | undefined): string[] {
  const c = f.totals;
  const seen = c.failed + rejected(c);
  const saved = c.rejectedService + c.rejectedInstance + c.skips + c.retries;
  const row = (n: number, label: string, why: string) => `    ${int(n).padStart(7)}  ${label.padEnd(28)} ${why}`;
  const labelWidth = Math.max(...f.phases.map((p) => p.label.length));
  const lines = [
    `Summary (${secs(f.durationMs)})`,
    `  calls made                ${int(c.calls).padStart(7)}   ok ${int(c.ok)}`,
    `  calls the caller saw fail ${int(seen).padStart(7)}   ${int(c.failed)} failed by the service, ` +
      `${int(rejected(c))} rejected at once by a breaker`,
    `  calls the breakers saved  ${int(saved).padStart(7)}`,
    row(c.rejectedService, 'service-level rejections', SAVED_EXPLAINED.rejectedService),
    row(c.skips, 'instance-level skips', SAVED_EXPLAINED.skips),
    row(c.rejectedInstance, 'instance-level drops', SAVED_EXPLAINED.rejectedInstance),
    row(c.retries, 'retries on another instance', SAVED_EXPLAINED.retries),
  ];
  const death = f.phases.find((p) => p.name === 'instance-down');
  if (death !== undefined && f.killed !== undefined) {
    const d = death.counts;
    lines.push(
      `  while ${f.killed} was dead (${secs(death.startMs)} → ${secs(death.endMs)}): ${int(d.failed + rejected(d))} ` +
        `of ${int(ended(d))} calls failed for the caller; ${plural(d.retries, 'attempt was', 'attempts were')} ` +
        'retried on another instance',
    );
  }
  const onNodes = f.nodes > 1 ? ` on ${f.nodes} nodes in all` : '';
  lines.push(
    `  service breaker${f.nodes > 1 ? 's' : ''} opened ${plural(f.serviceOpens, 'time')}${onNodes}` +
      (f.lastServiceCloseMs === undefined ? '' : `, last closed at ${secs(f.lastServiceCloseMs)}`) +
      `; instance breakers opened ${plural(f.instanceOpens, 'time')}${onNodes}`,
    ...(f.fleet === undefined ? [] : fleetSummaryLines(f.fleet)),
    '  by phase:',
    ...f.phases.map(
      (p) =>
        `    ${p.label.padEnd(labelWidth)}  ${secs(p.startMs).padStart(6)} → ${secs(p.endMs).padEnd(6)}  ` +
        `${phaseCounts(p.counts)}  (${failureShare(p.counts)})`,
    ),
  );
  lines.push(reportPath === undefined ? '  report: skipped (--no-report)' : `  report: ${reportPath}`);
  return lines;
}
