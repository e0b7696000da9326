import { type Panel, State, stateName } from '@cbsuite/core';
import type { BreakerLevel } from './breaker-level.js';
import type { CBConfig } from './cb-config.js';
import type { LoadShedder, ShedDump } from './load-shedder.js';

/** Kitex's `Dump()` of one panel: non-CLOSED breakers, or a message when all are closed. */
export type CBDebugInfo = Record<string, Record<string, string | number>> | { msg: string };

/**
 * Kitex's `Dump()` shape, plus the default service config and the per-address
 * overrides, and `shedding` when the suite sets `serviceShedding`.
 */
export interface CBDump {
  readonly service: CBDebugInfo;
  readonly instance: CBDebugInfo;
  readonly cb_config: {
    readonly service: Record<string, CBConfig>;
    readonly instance: CBConfig;
    readonly service_default: CBConfig;
    readonly instance_overrides: Record<string, CBConfig>;
  };
  /** The service level's load shedding, per key: only with `serviceShedding`. */
  readonly shedding?: ShedDump;
}

/** Kitex's `Dump()` of a suite's two levels: non-CLOSED breakers per level, and the configs. */
export function dumpLevels(service: BreakerLevel, instance: BreakerLevel, shedder?: LoadShedder): CBDump {
  const serviceConfigs: Record<string, CBConfig> = {};
  for (const [k, c] of service.configs.own()) serviceConfigs[k] = c;
  for (const k of service.panel.dumpBreakers().keys()) serviceConfigs[k] ??= service.configs.get(k);
  const overrides: Record<string, CBConfig> = {};
  for (const [k, c] of instance.configs.own()) overrides[k] = c;
  return {
    service: debugInfo(service.panel),
    instance: debugInfo(instance.panel),
    cb_config: {
      service: serviceConfigs,
      instance: instance.configs.default,
      service_default: service.configs.default,
      instance_overrides: overrides,
    },
    ...(shedder && { shedding: shedder.dump() }),
  };
}

function debugInfo(panel: Panel): CBDebugInfo {
  const o = panel.options;
  const windowSec = (o.bucketTimeMs * o.bucketNums) / 1000;
  const label = (what: string) => `${what} in ${windowSec}s`;
  const out: Record<string, Record<string, string | number>> = {};
  for (const [key, b] of panel.dumpBreakers()) {
    if (b.state() === State.Closed) continue;
    const m = b.metricer();
    out[key] = {
      state: b.mode() === 'forcedOpen' ? 'FORCED_OPEN' : stateName(b.state()),
      [label('successes')]: m.successes(),
      [label('failures')]: m.failures(),
      [label('timeouts')]: m.timeouts(),
      [label('error rate')]: m.errorRate(),
    };
  }
  return Object.keys(out).length === 0 ? { msg: 'all circuit breakers are in closed state' } : out;
}
