import {
  type Breaker,
  ErrorType,
  OptionRangeError,
  OptionTypeError,
  type Panel,
  State,
  type TransitionCause,
} from '@cbsuite/core';
import type { CBSuite } from './cb-suite.js';
import type { Level } from './classify.js';
import { SUITE_METRICS } from './metric-catalog.js';

/** Values of the `state` label: the three states, and the forced modes as states of their own. */
export const STATE_LABELS = ['closed', 'open', 'half_open', 'forced_open', 'disabled', 'metrics_only'] as const;
export type StateLabel = (typeof STATE_LABELS)[number];

/** Values of the `outcome` label of the outcome counts. */
export const OUTCOMES = ['success', 'failure', 'timeout'] as const;

/** Values of the `outcome` label of call durations: what the service classifier said. */
export const DURATION_OUTCOMES = ['success', 'failure', 'timeout', 'ignorable'] as const;
export type DurationOutcome = (typeof DURATION_OUTCOMES)[number];

const PLAIN: Record<number, 'closed' | 'open' | 'half_open'> = {
  [State.Closed]: 'closed',
  [State.Open]: 'open',
  [State.HalfOpen]: 'half_open',
};

const CAUSES: Record<TransitionCause, string> = {
  trip: 'trip',
  cooled: 'cooled',
  probeFailed: 'probe_failed',
  probeSucceeded: 'probe_succeeded',
  mode: 'mode',
  reset: 'reset',
  remote: 'remote',
};

/** The `state` label of a breaker now: a forced mode wins over the state it reports. */
export function stateLabel(b: Breaker): StateLabel {
  switch (b.mode()) {
    case 'forcedOpen':
      return 'forced_open';
    case 'disabled':
      return 'disabled';
    case 'metricsOnly':
      return 'metrics_only';
    default:
      return PLAIN[b.state()] ?? 'closed';
  }
}

/** The label of a state of the state machine (transitions are between these). */
export function plainStateLabel(s: State): string {
  return PLAIN[s] ?? String(s);
}

/** The label of a transition's cause, in snake case. */
export function causeLabel(c: TransitionCause): string {
  return CAUSES[c] ?? String(c);
}

/** The `outcome` label of a call's duration; a classifier that failed made the call ignorable. */
export function durationOutcome(type: ErrorType | undefined): DurationOutcome {
  switch (type) {
    case ErrorType.Success:
      return 'success';
    case ErrorType.Failure:
      return 'failure';
    case ErrorType.Timeout:
      return 'timeout';
    default:
      return 'ignorable';
  }
}

/** One value of a metric, under Prometheus label names. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A call's duration, as the exporters get it. */
export type DurationSink = (suite: string, key: string, outcome: DurationOutcome, seconds: number) => void;

interface Tracked {
  readonly cbs: CBSuite;
  readonly transitions: WeakMap<Breaker, Map<string, number>>;
  readonly stop: (() => void)[];
}

const SEP = '\u0000';

/** The suite metrics read when scraped: every one of the catalog but the call durations, recorded as calls end. */
export type SampledSuiteMetric = Exclude<keyof typeof SUITE_METRICS, 'callDuration'>;

/** Those metrics, in catalog order: each is read by the {@link TrackedSuites} method of its name. */
export const SAMPLED_SUITE_METRICS = Object.keys(SUITE_METRICS).filter(
  (k): k is SampledSuiteMetric => k !== 'callDuration',
);

/**
 * The suites an exporter reads, by name, and what it keeps of each: the
 * transition counts (per breaker, so a removed address or an evicted key
 * takes its series with it) and the duration hook. Everything else is read
 * from the suite when asked; label sets follow the breakers the suite holds.
 */
export class TrackedSuites implements Record<SampledSuiteMetric, () => Sample[]> {
  private readonly suites = new Map<string, Tracked>();

  /** @param onDuration gets the duration of every call a service breaker let through, if given. */
  constructor(private readonly onDuration?: DurationSink) {}

  /**
   * Starts reading `cbs` under `name`.
   * @throws OptionTypeError when `cbs` is not a CBSuite or `name` not a non-empty string;
   *   OptionRangeError when `name` is taken.
   */
  add(cbs: CBSuite, name: string): void {
    const c = cbs as Partial<CBSuite> | null;
    if (typeof c !== 'object' || c === null || typeof c.observeCalls !== 'function' || c.servicePanel === undefined) {
      throw new OptionTypeError('cbs', cbs, 'must be a CBSuite');
    }
    if (typeof name !== 'string' || name.length === 0) {
      throw new OptionTypeError('name', name, 'must be a non-empty string');
    }
    if (this.suites.has(name)) throw new OptionRangeError('name', name, 'is already exported: names a suite once');
    const t: Tracked = { cbs, transitions: new WeakMap(), stop: [] };
    t.stop.push(
      cbs.onStateChange((e) => {
        const b = this.panel(cbs, e.level).breaker(e.key);
        if (b === undefined) return;
        let m = t.transitions.get(b);
        if (m === undefined) {
          m = new Map();
          t.transitions.set(b, m);
        }
        const k = `${plainStateLabel(e.from)}${SEP}${plainStateLabel(e.to)}${SEP}${causeLabel(e.cause)}`;
        m.set(k, (m.get(k) ?? 0) + 1);
      }),
    );
    const sink = this.onDuration;
    if (sink !== undefined) {
      const panel = cbs.servicePanel;
      t.stop.push(
        cbs.observeCalls({
          started: (key) => {
            const now = panel.options.now;
            const t0 = now();
            return { ended: (_status, type) => sink(name, key, durationOutcome(type), (now() - t0) / 1000) };
          },
        }),
      );
    }
    this.suites.set(name, t);
  }

  /** Stops reading the suite named `name`; true if there was one. */
  remove(name: string): boolean {
    const t = this.suites.get(name);
    if (t === undefined) return false;
    for (const stop of t.stop) stop();
    this.suites.delete(name);
    return true;
  }

  /** The names of the suites read. */
  names(): string[] {
    return [...this.suites.keys()];
  }

  /** Whether the suite named `suite` still has a service breaker for `key`. */
  holdsServiceKey(suite: string, key: string): boolean {
    return this.suites.get(suite)?.cbs.servicePanel.breaker(key) !== undefined;
  }

  /** The size of the service panel of the suite named `suite` (0 if none). */
  serviceKeys(suite: string): number {
    return this.suites.get(suite)?.cbs.servicePanel.size ?? 0;
  }

  breakerState(): Sample[] {
    return this.perBreaker((labels, b, out) => {
      const current = stateLabel(b);
      for (const state of STATE_LABELS) out.push({ labels: { ...labels, state }, value: state === current ? 1 : 0 });
    });
  }

  calls(): Sample[] {
    return this.perBreaker((labels, b, out) => {
      const t = b.totals();
      const values = [t.successes, t.failures, t.timeouts];
      OUTCOMES.forEach((outcome, i) => {
        out.push({ labels: { ...labels, outcome }, value: values[i] ?? 0 });
      });
    });
  }

  windowCalls(): Sample[] {
    return this.perBreaker((labels, b, out) => {
      const m = b.metricer();
      const values = [m.successes(), m.failures(), m.timeouts()];
      OUTCOMES.forEach((outcome, i) => {
        out.push({ labels: { ...labels, outcome }, value: values[i] ?? 0 });
      });
    });
  }

  windowErrorRate(): Sample[] {
    return this.perBreaker((labels, b, out) => out.push({ labels, value: b.metricer().errorRate() }));
  }

  windowSlowCalls(): Sample[] {
    return this.perBreaker((labels, b, out) => out.push({ labels, value: b.metricer().slowCalls() }), true);
  }

  windowSlowCallRate(): Sample[] {
    return this.perBreaker((labels, b, out) => out.push({ labels, value: b.metricer().slowRate() }), true);
  }

  transitions(): Sample[] {
    const out: Sample[] = [];
    for (const [suite, t] of this.suites) {
      for (const [level, panel] of this.levels(t.cbs)) {
        for (const [key, b] of panel.dumpBreakers()) {
          for (const [k, value] of t.transitions.get(b) ?? []) {
            const [from = '', to = '', cause = ''] = k.split(SEP);
            out.push({ labels: { suite, level, key, from, to, cause }, value });
          }
        }
      }
    }
    return out;
  }

  serviceRejections(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [key, value] of cbs.stats().service.rejections) out.push({ labels: { suite, key }, value });
    });
  }

  serviceShed(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [reason, keys] of Object.entries(cbs.stats().service.shed)) {
        for (const [key, value] of keys) out.push({ labels: { suite, key, reason }, value });
      }
    });
  }

  instanceSkips(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [key, value] of cbs.stats().instance.skips) out.push({ labels: { suite, key }, value });
    });
  }

  instanceHealthProbes(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [key, byResult] of cbs.stats().instance.healthProbes) {
        for (const [result, value] of Object.entries(byResult)) out.push({ labels: { suite, key, result }, value });
      }
    });
  }

  instanceDrops(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().instance.drops }));
  }

  instanceRetries(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().instance.retries }));
  }

  instancePanic(): Sample[] {
    return this.perSuite((suite, cbs, out) =>
      out.push({ labels: { suite }, value: cbs.stats().instance.panic ? 1 : 0 }),
    );
  }

  instancePanics(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().instance.panics }));
  }

  instancePanicPicks(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().instance.panicPicks }));
  }

  instanceEjections(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().instance.ejections }));
  }

  instanceEjected(): Sample[] {
    return this.perSuite((suite, cbs, out) =>
      out.push({ labels: { suite }, value: cbs.stats().instance.ejected.length }),
    );
  }

  retryRefusals(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      const r = cbs.stats().retry;
      out.push(
        { labels: { suite, reason: 'budget' }, value: r.budgetRefusals },
        { labels: { suite, reason: 'method_failing' }, value: r.methodStops },
        { labels: { suite, reason: 'chain_stop' }, value: r.chainStops },
        { labels: { suite, reason: 'deadline' }, value: r.deadlineStops },
      );
    });
  }

  retryPushbacks(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().retry.pushbacks }));
  }

  hedges(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().retry.hedges }));
  }

  faults(): Sample[] {
    return this.perSuite((suite, cbs, out) => out.push({ labels: { suite }, value: cbs.stats().service.faults }));
  }

  breakers(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [level, panel] of this.levels(cbs)) out.push({ labels: { suite, level }, value: panel.size });
    });
  }

  evictions(): Sample[] {
    return this.perSuite((suite, cbs, out) => {
      for (const [level, panel] of this.levels(cbs)) {
        out.push({ labels: { suite, level }, value: panel.stats().evictions });
      }
    });
  }

  /** Stops reading every suite. */
  clear(): void {
    for (const name of this.names()) this.remove(name);
  }

  private panel(cbs: CBSuite, level: Level): Panel {
    return level === 'service' ? cbs.servicePanel : cbs.instancePanel;
  }

  private levels(cbs: CBSuite): readonly (readonly [Level, Panel])[] {
    return [
      ['service', cbs.servicePanel],
      ['instance', cbs.instancePanel],
    ];
  }

  private perSuite(each: (suite: string, cbs: CBSuite, out: Sample[]) => void): Sample[] {
    const out: Sample[] = [];
    for (const [suite, t] of this.suites) each(suite, t.cbs, out);
    return out;
  }

  // Every breaker of every suite; with `slowOnly`, only levels that track slow calls.
  private perBreaker(
    each: (labels: Record<string, string>, b: Breaker, out: Sample[]) => void,
    slowOnly = false,
  ): Sample[] {
    const out: Sample[] = [];
    for (const [suite, t] of this.suites) {
      for (const [level, panel] of this.levels(t.cbs)) {
        if (slowOnly && !panel.options.trackSlow) continue;
        for (const [key, b] of panel.dumpBreakers()) each({ suite, level, key }, b, out);
      }
    }
    return out;
  }
}
