// @cbsuite/grpc-interceptor/otel: OpenTelemetry spans and metrics through @opentelemetry/api (an optional peer dependency).
export type { MetricKind, MetricSpec } from './metric-catalog.js';
export { DEFAULT_DURATION_BUCKETS, SUITE_METRICS, SYNC_METRICS } from './metric-catalog.js';
export { isMissingPeerError, MissingPeerError } from './missing-peer-error.js';
export type { CBSuiteOtelMetricsOptions, OtelMetricsOptions } from './otel-metrics.js';
export { CBSuiteOtelMetrics, METER_NAME, RedisSyncOtelMetrics } from './otel-metrics.js';
export { REJECTION_EVENT, STATE_CHANGE_EVENT, traceSuite } from './otel-tracing.js';
export type { SyncStats, SyncStatsSource } from './tracked-syncs.js';
