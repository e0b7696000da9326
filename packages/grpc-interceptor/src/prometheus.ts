// @cbsuite/grpc-interceptor/prometheus: Prometheus metrics through prom-client (an optional peer dependency).
export type { MetricKind, MetricSpec } from './metric-catalog.js';
export { DEFAULT_DURATION_BUCKETS, SUITE_METRICS, SYNC_METRICS } from './metric-catalog.js';
export { isMissingPeerError, MissingPeerError } from './missing-peer-error.js';
export type { CBSuiteMetricsOptions } from './prometheus-suite.js';
export { CBSuiteMetrics } from './prometheus-suite.js';
export type { RedisSyncMetricsOptions } from './prometheus-sync.js';
export { RedisSyncMetrics } from './prometheus-sync.js';
export type { SyncStats, SyncStatsSource } from './tracked-syncs.js';
