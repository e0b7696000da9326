/**
 * The metrics cbsuite exports, once for both exporters: `/prometheus`
 * (prom-client) names them the Prometheus way, `/otel` the OpenTelemetry
 * way. Both read the same values.
 *
 * Prometheus names carry the prefix (default `cbsuite_`), the unit and
 * `_total` on counters; OTel names carry the prefix (default `cbsuite.`),
 * dots between namespaces, and the unit in the instrument's `unit`. OTel's
 * Prometheus exporter turns each OTel name back into the Prometheus one,
 * except for rates, whose unit `1` it spells `_ratio`. OTel attributes are
 * the Prometheus labels under `cbsuite.` (`suite` is `cbsuite.suite`).
 */

/** How a metric's values behave. */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** One metric, as both exporters name it. */
export interface MetricSpec {
  /** Prometheus name, after the prefix. */
  readonly prom: string;
  /** OpenTelemetry name, after the prefix. */
  readonly otel: string;
  readonly kind: MetricKind;
  /** OpenTelemetry unit (UCUM): `s`, `1`, or an annotation such as `{call}`. */
  readonly unit: string;
  readonly help: string;
  /** Label names (Prometheus); OTel attributes are these under `cbsuite.`. */
  readonly labels: readonly string[];
}

const breaker = ['suite', 'level', 'key'] as const;

/** The metrics of `CBSuiteMetrics` and `CBSuiteOtelMetrics`. */
export const SUITE_METRICS = {
  breakerState: {
    prom: 'breaker_state',
    otel: 'breaker.state',
    kind: 'gauge',
    unit: '1',
    help: 'State of each circuit breaker: 1 for its current state, 0 for the others. Forced modes are states of their own.',
    labels: [...breaker, 'state'],
  },
  calls: {
    prom: 'calls_total',
    otel: 'calls',
    kind: 'counter',
    unit: '{call}',
    help: 'Outcomes recorded by each breaker since it was made, by outcome.',
    labels: [...breaker, 'outcome'],
  },
  windowCalls: {
    prom: 'window_calls',
    otel: 'window.calls',
    kind: 'gauge',
    unit: '{call}',
    help: "Outcomes in each breaker's window (what its trip func sees), by outcome.",
    labels: [...breaker, 'outcome'],
  },
  windowErrorRate: {
    prom: 'window_error_rate',
    otel: 'window.error_rate',
    kind: 'gauge',
    unit: '1',
    help: "Error rate in each breaker's window, 0 to 1: (failures + timeouts) / outcomes.",
    labels: breaker,
  },
  windowSlowCalls: {
    prom: 'window_slow_calls',
    otel: 'window.slow_calls',
    kind: 'gauge',
    unit: '{call}',
    help: "Slow calls in each breaker's window, for levels that track slow calls (slowCallDurationMs).",
    labels: breaker,
  },
  windowSlowCallRate: {
    prom: 'window_slow_call_rate',
    otel: 'window.slow_call_rate',
    kind: 'gauge',
    unit: '1',
    help: "Slow-call rate in each breaker's window, 0 to 1, for levels that track slow calls (slowCallDurationMs).",
    labels: breaker,
  },
  transitions: {
    prom: 'transitions_total',
    otel: 'transitions',
    kind: 'counter',
    unit: '{transition}',
    help: 'State transitions of each breaker, by state before and after, and cause.',
    labels: [...breaker, 'from', 'to', 'cause'],
  },
  callDuration: {
    prom: 'call_duration_seconds',
    otel: 'call.duration',
    kind: 'histogram',
    unit: 's',
    help: 'Duration of the calls a service breaker let through, from the check to the final status, by outcome.',
    labels: ['suite', 'key', 'outcome'],
  },
  serviceRejections: {
    prom: 'service_rejections_total',
    otel: 'service.rejections',
    kind: 'counter',
    unit: '{call}',
    help: 'Calls a service breaker rejected (not sent).',
    labels: ['suite', 'key'],
  },
  serviceShed: {
    prom: 'service_shed_total',
    otel: 'service.shed',
    kind: 'counter',
    unit: '{call}',
    help: 'Calls serviceShedding failed fast (not sent), by reason: latency, adaptive or concurrency.',
    labels: ['suite', 'key', 'reason'],
  },
  instanceSkips: {
    prom: 'instance_skips_total',
    otel: 'instance.skips',
    kind: 'counter',
    unit: '{pick}',
    help: 'Picks that skipped an instance because its breaker was open (the call went to another instance).',
    labels: ['suite', 'key'],
  },
  instanceDrops: {
    prom: 'instance_drops_total',
    otel: 'instance.drops',
    kind: 'counter',
    unit: '{call}',
    help: 'Calls failed fast because the breaker of every instance they could go to was open.',
    labels: ['suite'],
  },
  instanceRetries: {
    prom: 'instance_retries_total',
    otel: 'instance.retries',
    kind: 'counter',
    unit: '{attempt}',
    help: 'Attempts retried on another instance.',
    labels: ['suite'],
  },
  instancePanic: {
    prom: 'instance_panic',
    otel: 'instance.panic',
    kind: 'gauge',
    unit: '1',
    help: 'Whether the instance level is in panic now (panicThreshold): 1 or 0.',
    labels: ['suite'],
  },
  instancePanics: {
    prom: 'instance_panics_total',
    otel: 'instance.panics',
    kind: 'counter',
    unit: '{panic}',
    help: 'Times the instance level entered panic.',
    labels: ['suite'],
  },
  instancePanicPicks: {
    prom: 'instance_panic_picks_total',
    otel: 'instance.panic_picks',
    kind: 'counter',
    unit: '{pick}',
    help: 'Picks sent to an instance its breaker refused or outlier ejection ejected, because the level was in panic.',
    labels: ['suite'],
  },
  instanceEjections: {
    prom: 'instance_ejections_total',
    otel: 'instance.ejections',
    kind: 'counter',
    unit: '{ejection}',
    help: 'Ejections of instances by outlier ejection.',
    labels: ['suite'],
  },
  instanceEjected: {
    prom: 'instance_ejected',
    otel: 'instance.ejected',
    kind: 'gauge',
    unit: '{instance}',
    help: 'Instances outlier ejection holds ejected now.',
    labels: ['suite'],
  },
  retryRefusals: {
    prom: 'retry_refusals_total',
    otel: 'retry.refusals',
    kind: 'counter',
    unit: '{attempt}',
    help: 'Attempts safe to retry that were not retried, by the stop that refused them (budget, method_failing, chain_stop, deadline, pushback).',
    labels: ['suite', 'reason'],
  },
  retryPushbacks: {
    prom: 'retry_pushbacks_total',
    otel: 'retry.pushbacks',
    kind: 'counter',
    unit: '{attempt}',
    help: "Retries a server's grpc-retry-pushback-ms delayed or refused.",
    labels: ['suite'],
  },
  hedges: {
    prom: 'hedges_total',
    otel: 'hedges',
    kind: 'counter',
    unit: '{attempt}',
    help: 'Hedges sent: attempts of hedged calls sent because no attempt had answered within the hedging delay.',
    labels: ['suite'],
  },
  instanceHealthProbes: {
    prom: 'instance_health_probes_total',
    otel: 'instance.health_probes',
    kind: 'counter',
    unit: '{probe}',
    help: 'Health-checked probes of half-open instances (healthCheck), by result: serving, notServing, unimplemented.',
    labels: ['suite', 'key', 'result'],
  },
  faults: {
    prom: 'faults_total',
    otel: 'faults',
    kind: 'counter',
    unit: '{fault}',
    help: 'Faults of the breaker machinery (each let a call through unprotected).',
    labels: ['suite'],
  },
  breakers: {
    prom: 'breakers',
    otel: 'breakers',
    kind: 'gauge',
    unit: '{breaker}',
    help: 'Breakers each level holds now (one per service key, one per instance address).',
    labels: ['suite', 'level'],
  },
  evictions: {
    prom: 'breaker_evictions_total',
    otel: 'breaker.evictions',
    kind: 'counter',
    unit: '{breaker}',
    help: 'Breakers dropped to keep a level within its maxKeys.',
    labels: ['suite', 'level'],
  },
} as const satisfies Record<string, MetricSpec>;

const sync = ['sync'] as const;

/** The metrics of `RedisSyncMetrics` and `RedisSyncOtelMetrics`, read from `RedisSync.stats()`. */
export const SYNC_METRICS = {
  connected: {
    prom: 'sync_connected',
    otel: 'sync.connected',
    kind: 'gauge',
    unit: '1',
    help: 'Whether the last flush reached Redis in time: 1 or 0.',
    labels: sync,
  },
  lag: {
    prom: 'sync_lag_seconds',
    otel: 'sync.lag',
    kind: 'gauge',
    unit: 's',
    help: 'Time since the last flush that reached Redis (+Inf before the first).',
    labels: sync,
  },
  flushes: {
    prom: 'sync_flushes_total',
    otel: 'sync.flushes',
    kind: 'counter',
    unit: '{flush}',
    help: 'Flushes to Redis.',
    labels: sync,
  },
  failedFlushes: {
    prom: 'sync_failed_flushes_total',
    otel: 'sync.failed_flushes',
    kind: 'counter',
    unit: '{flush}',
    help: 'Flushes that failed or timed out.',
    labels: sync,
  },
  duplicates: {
    prom: 'sync_duplicate_flushes_total',
    otel: 'sync.duplicate_flushes',
    kind: 'counter',
    unit: '{flush}',
    help: 'Flushes Redis had applied already (sent again after a timeout), not counted twice.',
    labels: sync,
  },
  refused: {
    prom: 'sync_refused_messages_total',
    otel: 'sync.refused_messages',
    kind: 'counter',
    unit: '{message}',
    help: 'Messages and records read from Redis and refused, by reason.',
    labels: [...sync, 'reason'],
  },
  refusedConfigs: {
    prom: 'sync_refused_configs_total',
    otel: 'sync.refused_configs',
    kind: 'counter',
    unit: '{config}',
    help: 'Configs from the fleet that failed validation (nothing changed).',
    labels: sync,
  },
  droppedStale: {
    prom: 'sync_dropped_stale_total',
    otel: 'sync.dropped_stale',
    kind: 'counter',
    unit: '{batch}',
    help: 'Counts dropped because they could not be sent before they left the window.',
    labels: sync,
  },
  appliedStates: {
    prom: 'sync_applied_states_total',
    otel: 'sync.applied_states',
    kind: 'counter',
    unit: '{state}',
    help: 'States applied from other nodes.',
    labels: sync,
  },
  repaired: {
    prom: 'sync_repaired_total',
    otel: 'sync.repaired',
    kind: 'counter',
    unit: '{record}',
    help: 'Keys of the wrong type and garbage records found in Redis and repaired.',
    labels: sync,
  },
  clamped: {
    prom: 'sync_clamped_flushes_total',
    otel: 'sync.clamped_flushes',
    kind: 'counter',
    unit: '{flush}',
    help: 'Flushes whose counts were beyond maxNodeCallsPerSec, and clamped.',
    labels: sync,
  },
  commands: {
    prom: 'sync_commands_total',
    otel: 'sync.commands',
    kind: 'counter',
    unit: '{command}',
    help: 'Redis commands sent.',
    labels: sync,
  },
  keys: {
    prom: 'sync_keys',
    otel: 'sync.keys',
    kind: 'gauge',
    unit: '{key}',
    help: 'Breakers shared through the sync.',
    labels: sync,
  },
  leases: {
    prom: 'sync_leases',
    otel: 'sync.leases',
    kind: 'gauge',
    unit: '{lease}',
    help: 'Probe leases this node holds.',
    labels: sync,
  },
  pendingBatches: {
    prom: 'sync_pending_batches',
    otel: 'sync.pending_batches',
    kind: 'gauge',
    unit: '{batch}',
    help: 'Counts taken and not yet confirmed by Redis, in batches.',
    labels: sync,
  },
} as const satisfies Record<string, MetricSpec>;

/** Bucket bounds of `call_duration_seconds`, in seconds: Prometheus's defaults, from 1 ms. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
