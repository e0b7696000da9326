import {
  type Breaker,
  ErrorType,
  EventEmitter,
  isErrorType,
  NO_PERMIT,
  Panel,
  type PanelOptions,
  type Permit,
  show,
} from '@cbsuite/core';
import type { StatusObject } from '@grpc/grpc-js';
import type { CBConfigInput } from './cb-config.js';
import type { GetErrorTypeFunc, Level, OutcomeContext } from './classify.js';
import { type CBTripFuncFactory, ConfigStore } from './config-store.js';
import type { FaultPhase } from './events.js';
import type { RPCInfo } from './rpc-info.js';

const OK: StatusObject['code'] = 0;

export interface BreakerLevelOptions {
  readonly panelOptions: PanelOptions;
  readonly defaults: CBConfigInput | undefined;
  readonly makeTrip: CBTripFuncFactory;
  readonly getErrorType: GetErrorTypeFunc;
  /**
   * Whether `getErrorType` counts every OK as a success whatever its context
   * (the built-in classifiers do): then an OK is recorded without asking it.
   */
  readonly okIsSuccess?: boolean;
}

/**
 * One level of the suite, after Kitex's `Control` + `RecordStat`: a panel of
 * breakers whose trip funcs come from a config store, asked before a call
 * (`admit`) and told its outcome (`record`) through the level's classifier.
 * The service level keys it by `from/to/method`, the instance level by
 * address; each supplies only its key, its facts and its rejection.
 */
export class BreakerLevel {
  readonly panel: Panel;
  readonly configs: ConfigStore;
  private readonly faults: EventEmitter<[phase: FaultPhase, key: string | undefined, error: unknown]>;
  /** The breaker machinery failed for a call; subscribe with a listener, get a disposer back. */
  readonly onFault;
  // Per breaker, so a key's count goes with its breaker when the panel evicts
  // or removes it: bounded by the keys the panel holds.
  private readonly rejectionCounts = new WeakMap<Breaker, number>();

  constructor(
    readonly level: Level,
    private readonly opts: BreakerLevelOptions,
    configPath: string,
  ) {
    const makeTrip: CBTripFuncFactory = (cfg, key) => {
      const trip = opts.makeTrip(cfg, key);
      // Not a function: the panel treats it as never tripping.
      return typeof trip === 'function' ? (m) => !this.tripsHeld() && trip(m) : trip;
    };
    this.configs = new ConfigStore(makeTrip, opts.defaults, configPath);
    this.panel = new Panel({ ...opts.panelOptions, shouldTripWithKey: (key) => this.configs.trip(key) });
    this.faults = new EventEmitter();
    this.onFault = this.faults.event;
    // A panel's options are fixed when it is made.
    const o = this.panel.options;
    this.latencyClock = o.trackSlow ? o.now : undefined;
    this.okIsSuccess = opts.okIsSuccess === true;
  }

  /** Whether an OK may be recorded as a success without asking the classifier (see {@link recordType}). */
  readonly okIsSuccess: boolean;

  /** The clock of the level's breakers when they measure latency (slow calls tracked), else undefined. */
  readonly latencyClock: (() => number) | undefined;

  /**
   * Asked before a closed breaker of the level trips, after its trip func
   * said yes: while it returns true no breaker trips (the instance level's
   * panic mode holds trips). Asked only then, never per call.
   */
  tripsHeld: () => boolean = () => false;

  /** The breaker of `key`, or undefined when its config disables breaking (the call goes through, unrecorded). */
  breakerFor(key: string): Breaker | undefined {
    return this.configs.get(key).enable ? this.panel.getBreaker(key) : undefined;
  }

  /** Asks `breaker` for a permit, counting a rejection. */
  admit(breaker: Breaker): Permit {
    const permit = breaker.acquire();
    if (permit === NO_PERMIT) this.rejectionCounts.set(breaker, (this.rejectionCounts.get(breaker) ?? 0) + 1);
    return permit;
  }

  /**
   * Classifies `status` and records it on `breaker`; returns the type
   * recorded, or undefined when the classifier failed (a fault; the outcome
   * counts as ignorable). Never throws.
   */
  record(
    breaker: Breaker,
    permit: Permit,
    status: StatusObject,
    ctx: OutcomeContext,
    latencyMs?: number,
  ): ErrorType | undefined {
    let type: ErrorType;
    try {
      type = this.opts.getErrorType(status, ctx);
      if (!isErrorType(type))
        throw new TypeError(`the ${this.level} classifier returned ${show(type)}, not an ErrorType`);
    } catch (err) {
      return this.faulted(breaker, permit, err);
    }
    return this.recordType(breaker, permit, type, latencyMs);
  }

  /**
   * Records the final `status` of a call on `breaker`, as {@link record}
   * does with the call's context (this level, the breaker's key and the
   * rest); an OK is recorded as a success without building the context when
   * {@link okIsSuccess}. Returns what `record` returns. Never throws.
   */
  recordCall(
    breaker: Breaker,
    permit: Permit,
    status: StatusObject,
    rpcInfo: RPCInfo,
    cancelledByCaller: boolean,
    fromServer: boolean,
    latencyMs?: number,
  ): ErrorType | undefined {
    if (status.code === OK && this.okIsSuccess) return this.recordType(breaker, permit, ErrorType.Success, latencyMs);
    const ctx: OutcomeContext = { level: this.level, key: breaker.key, rpcInfo, cancelledByCaller, fromServer };
    return this.record(breaker, permit, status, ctx, latencyMs);
  }

  /**
   * Records an outcome already classified as `type` on `breaker` (an OK, when
   * {@link okIsSuccess}); returns `type`, or undefined when recording failed
   * (a fault; the outcome counts as ignorable). Never throws.
   */
  recordType(breaker: Breaker, permit: Permit, type: ErrorType, latencyMs?: number): ErrorType | undefined {
    try {
      breaker.record(type, latencyMs, permit);
      return type;
    } catch (err) {
      return this.faulted(breaker, permit, err);
    }
  }

  private faulted(breaker: Breaker, permit: Permit, err: unknown): undefined {
    // The call went out: its probe keeps its detect interval, as for an ignorable outcome.
    breaker.record(ErrorType.Ignorable, undefined, permit);
    this.fault('record', breaker.key, err);
    return undefined;
  }

  /** Reports a fault of the machinery for a call. */
  fault(phase: FaultPhase, key: string | undefined, error: unknown): void {
    this.faults.emit(phase, key, error);
  }

  /** Rejections by key, for the keys the panel holds, since each key's breaker was made. */
  rejections(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, b] of this.panel.dumpBreakers()) {
      const n = this.rejectionCounts.get(b);
      if (n !== undefined) out.set(key, n);
    }
    return out;
  }
}
