import { type Panel, State } from '@cbsuite/core';
import { Counter, register as defaultRegistry, Gauge, type Registry } from 'prom-client';
import type { CBSuite } from './cb-suite.js';
import type { Level } from './classify.js';

/** Options of {@link CBSuiteMetrics}. */
export interface CBSuiteMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  readonly registry?: Registry;
  /** Prefix of every metric name. Default `cbsuite_`. */
  readonly prefix?: string;
}

const STATE_LABEL: Record<number, string> = {
  [State.Closed]: 'closed',
  [State.Open]: 'open',
  [State.HalfOpen]: 'half_open',
};

const outcomes = (successes: number, failures: number, timeouts: number): [string, number][] => [
  ['success', successes],
  ['failure', failures],
  ['timeout', timeouts],
];

interface Tracked {
  readonly cbs: CBSuite;
  readonly stop: () => void;
}

/**
 * Prometheus metrics of one or more suites, read from the suites when
 * scraped (transitions are counted as they happen). Every series has the
 * labels `suite` (the name given to `add`), `level` (`service` or
 * `instance`) and `key` (the service key, or the instance address).
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `cbsuite_breaker_state` | gauge, 1 for the current state | `state` = closed, open, half_open |
 * | `cbsuite_calls_total` | counter of recorded outcomes | `outcome` = success, failure, timeout |
 * | `cbsuite_window_calls` | gauge, outcomes in the breaker's window | `outcome` |
 * | `cbsuite_window_error_rate` | gauge, error rate in the window | |
 * | `cbsuite_rejections_total` | counter of calls rejected (service) or picks skipped (instance) | |
 * | `cbsuite_transitions_total` | counter | `from`, `to` |
 * | `cbsuite_instance_retries_total` | counter of attempts retried on another instance | `suite` only |
 * | `cbsuite_instance_drops_total` | counter of calls failed fast, every instance tripped | `suite` only |
 * | `cbsuite_faults_total` | counter of faults of the breaker machinery | `suite` only |
 *
 * ```ts
 * const metrics = new CBSuiteMetrics({ registry });
 * metrics.add(cbs, 'checkout-client');
 * // GET /metrics → await registry.metrics()
 * ```
 */
export class CBSuiteMetrics {
  private readonly suites = new Map<string, Tracked>();
  private readonly transitions: Counter<string>;

  constructor(options: CBSuiteMetricsOptions = {}) {
    const registers = [options.registry ?? defaultRegistry];
    const p = options.prefix ?? 'cbsuite_';
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(p))
      throw new TypeError(`prefix must be a Prometheus name prefix, got ${JSON.stringify(p)}`);
    const suites = this.suites;
    const perBreaker = (each: (panel: Panel, labels: Record<string, string>, level: Level) => void) => {
      for (const [suite, { cbs }] of suites) {
        for (const [level, panel] of [
          ['service', cbs.servicePanel],
          ['instance', cbs.instancePanel],
        ] as const) {
          each(panel, { suite, level }, level);
        }
      }
    };

    new Gauge({
      name: `${p}breaker_state`,
      help: 'State of each circuit breaker: 1 for its current state, 0 for the others.',
      labelNames: ['suite', 'level', 'key', 'state'],
      registers,
      collect() {
        this.reset();
        perBreaker((panel, labels) => {
          for (const [key, b] of panel.dumpBreakers()) {
            const current = STATE_LABEL[b.state()];
            for (const state of Object.values(STATE_LABEL))
              this.set({ ...labels, key, state }, state === current ? 1 : 0);
          }
        });
      },
    });
    new Counter({
      name: `${p}calls_total`,
      help: 'Outcomes recorded by each breaker since it was made, by outcome.',
      labelNames: ['suite', 'level', 'key', 'outcome'],
      registers,
      collect() {
        this.reset();
        perBreaker((panel, labels) => {
          for (const [key, b] of panel.dumpBreakers()) {
            const t = b.totals();
            for (const [outcome, n] of outcomes(t.successes, t.failures, t.timeouts)) {
              this.inc({ ...labels, key, outcome }, n);
            }
          }
        });
      },
    });
    new Gauge({
      name: `${p}window_calls`,
      help: "Outcomes in each breaker's window (the trip func's view), by outcome.",
      labelNames: ['suite', 'level', 'key', 'outcome'],
      registers,
      collect() {
        this.reset();
        perBreaker((panel, labels) => {
          for (const [key, b] of panel.dumpBreakers()) {
            const m = b.metricer();
            for (const [outcome, n] of outcomes(m.successes(), m.failures(), m.timeouts())) {
              this.set({ ...labels, key, outcome }, n);
            }
          }
        });
      },
    });
    new Gauge({
      name: `${p}window_error_rate`,
      help: "Error rate in each breaker's window, 0 to 1.",
      labelNames: ['suite', 'level', 'key'],
      registers,
      collect() {
        this.reset();
        perBreaker((panel, labels) => {
          for (const [key, b] of panel.dumpBreakers()) this.set({ ...labels, key }, b.metricer().errorRate());
        });
      },
    });
    new Counter({
      name: `${p}rejections_total`,
      help: 'Calls a service breaker rejected, and picks an instance breaker skipped.',
      labelNames: ['suite', 'level', 'key'],
      registers,
      collect() {
        this.reset();
        for (const [suite, { cbs }] of suites) {
          const s = cbs.stats();
          for (const [key, n] of s.service.rejections) this.inc({ suite, level: 'service', key }, n);
          for (const [key, n] of s.instance.skips) this.inc({ suite, level: 'instance', key }, n);
        }
      },
    });
    this.transitions = new Counter({
      name: `${p}transitions_total`,
      help: 'State transitions of each breaker.',
      labelNames: ['suite', 'level', 'key', 'from', 'to'],
      registers,
    });
    const perSuite = (name: string, help: string, read: (cbs: CBSuite) => number) =>
      new Counter({
        name: `${p}${name}`,
        help,
        labelNames: ['suite'],
        registers,
        collect() {
          this.reset();
          for (const [suite, { cbs }] of suites) this.inc({ suite }, read(cbs));
        },
      });
    perSuite('instance_retries_total', 'Attempts retried on another instance.', (c) => c.stats().instance.retries);
    perSuite(
      'instance_drops_total',
      'Calls failed fast because every instance tried was tripped.',
      (c) => c.stats().instance.drops,
    );
    perSuite(
      'faults_total',
      'Faults of the breaker machinery (each let a call through unprotected).',
      (c) => c.stats().service.faults,
    );
  }

  /** Starts exporting `cbs` under the label `suite="<name>"`. */
  add(cbs: CBSuite, name: string): void {
    if (typeof name !== 'string' || name.length === 0)
      throw new TypeError(`name must be a non-empty string, got ${JSON.stringify(name)}`);
    if (this.suites.has(name)) throw new Error(`a suite named ${JSON.stringify(name)} is already exported`);
    const stop = cbs.onStateChange((e) =>
      this.transitions.inc({
        suite: name,
        level: e.level,
        key: e.key,
        from: STATE_LABEL[e.from] ?? String(e.from),
        to: STATE_LABEL[e.to] ?? String(e.to),
      }),
    );
    this.suites.set(name, { cbs, stop });
  }

  /** Stops exporting the suite named `name`. */
  remove(name: string): void {
    this.suites.get(name)?.stop();
    this.suites.delete(name);
  }
}
