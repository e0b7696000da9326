import { countsOf, EventEmitter, type Metricer, type State, stateName, type TransitionInfo } from '@cbsuite/core';
import type { CBConfig } from './cb-config.js';
import type { Level } from './classify.js';
import {
  type CBConfigChangeEvent,
  type CBEjectionEvent,
  type CBEvent,
  type CBFaultEvent,
  type CBHealthProbeEvent,
  type CBPanicEvent,
  type CBStateChangeEvent,
  EventRing,
  type FaultPhase,
} from './events.js';
import type { HealthProbeOutcome } from './health-probes.js';
import type { EjectionChange } from './outlier-ejection.js';
import type { PanicChange } from './panic-mode.js';

/**
 * A suite's events: state changes, faults and config changes of both levels,
 * their listeners, and the ring of recent ones (Kitex's event queue). A
 * listener that throws is reported once as a process warning.
 */
export class SuiteEvents {
  private readonly warn = (err: unknown) => this.warnOnce('listener', err);
  private readonly states = new EventEmitter<[CBStateChangeEvent]>(this.warn);
  private readonly faultEvents = new EventEmitter<[CBFaultEvent]>(this.warn);
  private readonly configs = new EventEmitter<[CBConfigChangeEvent]>(this.warn);
  readonly onStateChange = this.states.event;
  readonly onFault = this.faultEvents.event;
  readonly onConfigChange = this.configs.event;
  private readonly panics = new EventEmitter<[CBPanicEvent]>(this.warn);
  readonly onPanic = this.panics.event;
  private readonly ejections = new EventEmitter<[CBEjectionEvent]>(this.warn);
  readonly onEjection = this.ejections.event;
  private readonly healthProbes = new EventEmitter<[CBHealthProbeEvent]>(this.warn);
  readonly onHealthProbe = this.healthProbes.event;
  private readonly ring: EventRing<CBEvent>;
  private readonly warned = new Set<string>();
  /** Where config changes come from right now: the fleet while its configs are applied. */
  configSource: CBConfigChangeEvent['source'] = 'local';
  /** Faults so far. */
  faults = 0;

  constructor(queueSize: number) {
    this.ring = new EventRing(queueSize);
  }

  /** A breaker of `level` changed state. */
  transition(level: Level, key: string, from: State, to: State, m: Metricer, info: TransitionInfo): void {
    const counts = countsOf(m);
    const fromName = stateName(from);
    const toName = stateName(to);
    const e: CBStateChangeEvent = {
      type: 'stateChange',
      level,
      key,
      from,
      to,
      fromName,
      toName,
      cause: info.cause,
      attempt: info.attempt,
      coolingMs: info.coolingMs,
      fleet: info.fleet,
      counts,
      time: Date.now(),
      detail: `${key}: ${fromName} -> ${toName}, (succ: ${counts.successes}, err: ${counts.failures}, timeout: ${counts.timeouts}, rate: ${counts.errorRate.toFixed(6)})`,
    };
    this.ring.push(e);
    this.states.emit(e);
  }

  /** The instance level entered or left panic. */
  panic(change: PanicChange): void {
    const e: CBPanicEvent = { type: 'panic', level: 'instance', ...change, time: Date.now() };
    this.ring.push(e);
    this.panics.emit(e);
  }

  /** Outlier ejection ejected an instance, or an ejection ended. */
  ejection(c: EjectionChange): void {
    const e: CBEjectionEvent = {
      type: 'ejection',
      level: 'instance',
      key: c.address,
      ejected: c.ejected,
      reason: c.reason,
      ejectionTimeMs: c.ejectionTimeMs,
      ejectionCount: c.ejectionCount,
      time: Date.now(),
    };
    this.ring.push(e);
    this.ejections.emit(e);
  }

  /** A health-checked probe ended. */
  healthProbe(o: HealthProbeOutcome): void {
    const e: CBHealthProbeEvent = {
      type: 'healthProbe',
      level: 'instance',
      key: o.address,
      result: o.result,
      servingStatus: o.servingStatus,
      code: o.code,
      details: o.details,
      durationMs: o.durationMs,
      time: Date.now(),
    };
    this.ring.push(e);
    this.healthProbes.emit(e);
  }

  /** The breaker machinery failed for a call. Without listeners, each kind is warned about once. */
  fault(level: Level, phase: FaultPhase, key: string | undefined, error: unknown): void {
    this.faults++;
    const e: CBFaultEvent = { type: 'fault', level, phase, key, error, time: Date.now() };
    this.ring.push(e);
    if (this.faultEvents.size === 0) this.warnOnce(`${level}/${phase}`, error);
    else this.faultEvents.emit(e);
  }

  /** A config in force changed. */
  configChanged(level: Level, key: string | undefined, from: CBConfig, to: CBConfig): void {
    if (this.configs.size === 0) return;
    this.configs.emit({ type: 'configChange', level, key, from, to, source: this.configSource, time: Date.now() });
  }

  /** Runs `apply` with config changes reported as coming from the fleet. */
  fromFleet(apply: () => void): void {
    this.configSource = 'fleet';
    try {
      apply();
    } finally {
      this.configSource = 'local';
    }
  }

  /** The last events, oldest first. */
  recent(): CBEvent[] {
    return this.ring.toArray();
  }

  /** Drops every listener. */
  clear(): void {
    this.states.clear();
    this.faultEvents.clear();
    this.configs.clear();
    this.panics.clear();
    this.ejections.clear();
    this.healthProbes.clear();
  }

  /** Reports `error` as a process warning, once per kind. */
  warnOnce(kind: string, error: unknown): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    const message = error instanceof Error ? error.message : String(error);
    process.emitWarning(`cbsuite (${kind}): ${message}`, { code: 'CBSUITE_FAULT' });
  }
}
