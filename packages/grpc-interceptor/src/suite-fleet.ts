import type { Disposer, FleetSync, Mode } from '@cbsuite/core';
import type { CBConfig } from './cb-config.js';
import type { InstanceLevel } from './instance-level.js';
import { ADAPTIVE_SCOPE } from './load-shedder.js';
import type { ServiceLevel } from './service-level.js';
import type { SuiteEvents } from './suite-events.js';

/** Config scopes of a suite on a fleet sync. */
const CONFIG_SCOPES = {
  service: 'cb-service',
  serviceDefault: 'cb-service-default',
  instance: 'cb-instance',
  instanceDefault: 'cb-instance-default',
} as const;

/** Which config a suite publishes: a key's own (service key or instance address), or a level's default. */
export type PublishedConfig = keyof typeof CONFIG_SCOPES;

/**
 * A suite on a fleet sync: shares both panels (and, with shareWithFleet, the
 * adaptive throttle's counts), takes the fleet's configs (validated like
 * local ones), and publishes this node's.
 */
export class SuiteFleet {
  private readonly disposers: Disposer[] = [];

  constructor(
    private readonly sync: FleetSync,
    service: ServiceLevel,
    instance: InstanceLevel,
    events: SuiteEvents,
  ) {
    const serviceConfigs = service.level.configs;
    const instanceConfigs = instance.level.configs;
    const fromFleet = (apply: () => void) => events.fromFleet(apply);
    sync.attach(service.level.panel, 'service');
    sync.attach(instance.level.panel, 'instance');
    const shedder = service.shedder;
    if (shedder?.adaptive !== undefined && shedder.sharesWithFleet) {
      this.disposers.push(shedder.adaptive.shareWith(sync, ADAPTIVE_SCOPE));
    }
    this.disposers.push(
      sync.onConfig(CONFIG_SCOPES.service, (key, v) => fromFleet(() => serviceConfigs.update(key, v))),
      sync.onConfig(CONFIG_SCOPES.serviceDefault, (_key, v) => fromFleet(() => serviceConfigs.updateDefault(v))),
      sync.onConfig(CONFIG_SCOPES.instance, (key, v) => fromFleet(() => instanceConfigs.update(key, v))),
      sync.onConfig(CONFIG_SCOPES.instanceDefault, (_key, v) => fromFleet(() => instanceConfigs.updateDefault(v))),
    );
  }

  /** Publishes `applied`, a config this node has just validated and applied. */
  async publishConfig(which: PublishedConfig, key: string, applied: CBConfig): Promise<void> {
    await this.sync.publishConfig(CONFIG_SCOPES[which], key, applied);
  }

  /** Forces `mode` on a key of `level` here and on every node. */
  async publishMode(level: 'service' | 'instance', key: string, mode: Mode): Promise<void> {
    await this.sync.publishMode(level, key, mode);
  }

  /** Stops taking the fleet's configs and sharing the throttle's counts. */
  close(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
  }
}
