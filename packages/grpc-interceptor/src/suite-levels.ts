import { BreakerLevel } from './breaker-level.js';
import { CallRegistry } from './call-registry.js';
import type { Level } from './classify.js';
import { HealthProbes } from './health-probes.js';
import { InstanceLevel } from './instance-level.js';
import { LoadShedder } from './load-shedder.js';
import { OutlierEjection } from './outlier-ejection.js';
import { PanicMode } from './panic-mode.js';
import { RetryControl } from './retry-control.js';
import { ServiceLevel } from './service-level.js';
import type { SuiteEvents } from './suite-events.js';
import type { ResolvedSuiteOptions } from './suite-options.js';

/** What a suite is made of: both levels, the calls in flight and the retry state. */
export interface SuiteLevels {
  readonly service: ServiceLevel;
  readonly instance: InstanceLevel;
  readonly calls: CallRegistry;
  readonly retries: RetryControl;
}

/**
 * Builds both levels of a suite from its resolved options, with what the
 * options turn on (panic mode, outlier ejection, health-checked probes, load
 * shedding, hedging), and reports their events to `events`.
 */
export function buildSuiteLevels(o: ResolvedSuiteOptions, events: SuiteEvents): SuiteLevels {
  const instanceLevel = new BreakerLevel('instance', o.instance, 'instanceCBConfig');
  const serviceLevel = new BreakerLevel('service', o.service, 'defaultServiceCBConfig');
  const calls = new CallRegistry({ maxAttempts: o.maxAttempts, idempotent: o.idempotent });
  const retries = new RetryControl(o.retry, serviceLevel.panel.options.now);
  // The levels' own events first: a transition is reported before the panic it causes.
  for (const level of [serviceLevel, instanceLevel]) {
    const name: Level = level.level;
    level.panel.onStateChange((key, from, to, m, info) => events.transition(name, key, from, to, m, info));
    level.onFault((phase, key, error) => events.fault(name, phase, key, error));
    level.configs.onChange((key, from, to) => events.configChanged(name, key, from, to));
  }
  const panic = new PanicMode(o.panicThreshold);
  panic.onChange((change) => events.panic(change));
  let outliers: OutlierEjection | undefined;
  if (o.outlierDetection !== undefined) {
    const { now, random } = instanceLevel.panel.options;
    outliers = new OutlierEjection(o.outlierDetection, now, random, () => instance.addresses().length);
    outliers.onChange((change) => events.ejection(change));
  }
  let health: HealthProbes | undefined;
  if (o.healthCheck) {
    health = new HealthProbes(o.healthCheck, instanceLevel.panel.options.now, (addr, err) =>
      instanceLevel.fault('record', addr, err),
    );
    health.onProbe((outcome) => events.healthProbe(outcome));
  }
  const instance = new InstanceLevel(instanceLevel, calls, panic, outliers, health);
  const service = new ServiceLevel(serviceLevel, calls, o.fromService, o.genKey, retries, o.hedging);
  if (o.serviceShedding !== undefined) {
    const shedder = new LoadShedder(
      o.serviceShedding,
      serviceLevel.panel.options.now,
      'serviceShedding',
      o.sync !== undefined,
    );
    if (shedder.enabled) service.shedder = shedder;
  }
  return { service, instance, calls, retries };
}
