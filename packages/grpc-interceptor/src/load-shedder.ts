import {
  AdaptiveThrottle,
  type AdaptiveThrottleOptions,
  type Clock,
  ConcurrencyLimit,
  type ConcurrencyLimitOptions,
  checkBoolean,
  checkKeys,
  EventEmitter,
  LatencyThrottle,
  type LatencyThrottleOptions,
  OptionTypeError,
} from '@cbsuite/core';
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { ShedReason } from './load-shed-error.js';

/**
 * Load shedding per service key, each part off unless set (docs/semantics.md,
 * "Load shedding"). A breaker that is OPEN rejects first; then the
 * concurrency limit, the adaptive throttle and the latency throttle, in that
 * order. The suite's service clock drives them all.
 */
export interface LoadSheddingOptions {
  /** The WSO2 latency throttle: shed a share of a slow key's calls while too many calls are in flight. */
  readonly latencyThrottle?: Omit<LatencyThrottleOptions, 'now'>;
  /** Google SRE adaptive throttling: send about `k` times what the backend accepts. */
  readonly adaptiveThrottle?: AdaptiveSheddingOptions;
  /** At most so many calls in flight per key (fixed, adaptive, or both); beyond it calls fail fast. */
  readonly concurrencyLimit?: Omit<ConcurrencyLimitOptions, 'now'>;
}

/** The adaptive throttle of `serviceShedding`: its options, and whether the fleet shares its counts. */
export interface AdaptiveSheddingOptions extends Omit<AdaptiveThrottleOptions, 'now'> {
  /**
   * Decide on the fleet's `requests` and `accepts` rather than this node's
   * alone: shared through the suite's `sync` under the scope `adaptive`
   * (docs/semantics.md, "Load shedding", "Fleets"). Needs the suite option
   * `sync`: without one it is refused. Default false.
   */
  readonly shareWithFleet?: boolean;
}

/** The scope a suite's adaptive throttle shares its counts under, on the suite's sync. */
export const ADAPTIVE_SCOPE = 'adaptive';

const NAMES = Object.keys({
  latencyThrottle: true,
  adaptiveThrottle: true,
  concurrencyLimit: true,
} satisfies Record<keyof LoadSheddingOptions, true>);

/** A shed call: its key and why. */
export interface ShedEvent {
  readonly type: 'shed';
  readonly key: string;
  readonly reason: ShedReason;
  /** Wall-clock time, epoch ms. */
  readonly time: number;
}

/** One key's shedding now, in `dump()`; each field only when its part is on. */
export interface ShedKeyDump {
  /** Calls shed since the key was first seen, per reason (reasons with none left out). */
  readonly shed: Partial<Record<ShedReason, number>>;
  /** The latency throttle's `H`: the key's share of the time the process spends waiting, 0 to 1. */
  readonly latencyShare?: number;
  /** The adaptive throttle's rejection probability now, 0 to 1. */
  readonly rejectProbability?: number;
  /**
   * With `shareWithFleet`, while a fresh read of the fleet is in use: the
   * rest of the fleet's requests and accepts that `rejectProbability` adds
   * to this node's own.
   */
  readonly fleetRequests?: number;
  readonly fleetAccepts?: number;
  /** The concurrency limit now, and the key's calls in flight under it. */
  readonly concurrencyLimit?: number;
  readonly inFlight?: number;
}

/** The shedding of a suite in `dump()`. */
export interface ShedDump {
  /** Whether the latency throttle is throttling now (calls in flight reached `activeInFlight`). */
  readonly latencyActive?: boolean;
  /** Calls in flight the latency throttle counts, over every key. */
  readonly latencyInFlight?: number;
  readonly keys: Record<string, ShedKeyDump>;
}

/** What an admitted call holds until it ends. */
export class ShedTicket {
  constructor(
    private readonly shedder: LoadShedder,
    readonly key: string,
    readonly latencyAt: number | undefined,
    readonly limitAt: number | undefined,
  ) {}

  /** The call ended with `status`; `cancelled` when the caller cancelled it. */
  end(status: StatusObject, cancelled: boolean): void {
    this.shedder.end(this, status, cancelled, true);
  }

  /** The call never went out. */
  cancel(): void {
    this.shedder.end(this, undefined, false, false);
  }
}

// Refusals for overload: the backend did not accept the call (adaptive
// throttle), and a call the concurrency limit counts as dropped with timeouts.
const REFUSED: ReadonlySet<number> = new Set([Status.RESOURCE_EXHAUSTED, Status.UNAVAILABLE]);

/** The shedding of one suite's service level. */
export class LoadShedder {
  readonly latency: LatencyThrottle | undefined;
  readonly adaptive: AdaptiveThrottle | undefined;
  readonly limit: ConcurrencyLimit | undefined;
  private readonly sheds = new EventEmitter<[ShedEvent]>();
  /** Every shed call (not kept in the suite's recent events: under load there are many). */
  readonly onShed = this.sheds.event;
  /** Whether the adaptive throttle is to share its counts with the fleet (`shareWithFleet`). */
  readonly sharesWithFleet: boolean;

  /**
   * @param synced whether the suite has a fleet sync (`shareWithFleet` needs one).
   * @throws OptionTypeError/OptionRangeError naming a bad field under `path`.
   */
  constructor(options: LoadSheddingOptions, now: Clock, path = 'serviceShedding', synced = false) {
    const o = checkKeys(path, options, NAMES, path) as LoadSheddingOptions;
    const part = <T extends object>(name: keyof LoadSheddingOptions): T | undefined => {
      const v = o[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new OptionTypeError(`${path}.${name}`, v, 'must be an object');
      }
      if ('now' in v)
        throw new OptionTypeError(`${path}.${name}.now`, (v as { now: unknown }).now, 'is the suite clock');
      return { ...v, now } as T;
    };
    const lt = part<LatencyThrottleOptions>('latencyThrottle');
    const { shareWithFleet, ...at } = part<AdaptiveSheddingOptions & AdaptiveThrottleOptions>('adaptiveThrottle') ?? {};
    const share =
      shareWithFleet === undefined ? false : checkBoolean(`${path}.adaptiveThrottle.shareWithFleet`, shareWithFleet);
    if (share && !synced) {
      throw new OptionTypeError(`${path}.adaptiveThrottle.shareWithFleet`, true, 'needs the CBSuite option `sync`');
    }
    this.sharesWithFleet = share;
    const cl = part<ConcurrencyLimitOptions>('concurrencyLimit');
    this.latency = lt && new LatencyThrottle(lt, `${path}.latencyThrottle`);
    this.adaptive = o.adaptiveThrottle === undefined ? undefined : new AdaptiveThrottle(at, `${path}.adaptiveThrottle`);
    this.limit = cl && new ConcurrencyLimit(cl, `${path}.concurrencyLimit`);
  }

  /** Whether any part is on. */
  get enabled(): boolean {
    return this.latency !== undefined || this.adaptive !== undefined || this.limit !== undefined;
  }

  /** Decides a call to `key`: a ticket to end when the call ends, or the reason it is shed. */
  admit(key: string): ShedTicket | ShedReason {
    let limitAt: number | undefined;
    if (this.limit !== undefined) {
      limitAt = this.limit.acquire(key);
      if (limitAt === undefined) return this.shed(key, 'concurrency');
    }
    if (this.adaptive !== undefined && !this.adaptive.admit(key)) {
      if (limitAt !== undefined) this.limit?.release(key, limitAt, 'ignored');
      return this.shed(key, 'adaptive');
    }
    let latencyAt: number | undefined;
    if (this.latency !== undefined) {
      latencyAt = this.latency.start(key);
      if (latencyAt === undefined) {
        if (limitAt !== undefined) this.limit?.release(key, limitAt, 'ignored');
        return this.shed(key, 'latency');
      }
    }
    return new ShedTicket(this, key, latencyAt, limitAt);
  }

  /** @internal What a ticket does when its call ends. */
  end(t: ShedTicket, status: StatusObject | undefined, cancelled: boolean, sent: boolean): void {
    if (t.latencyAt !== undefined) this.latency?.end(t.key, t.latencyAt, sent);
    const refused = status !== undefined && REFUSED.has(status.code);
    if (t.limitAt !== undefined) {
      const dropped = refused || status?.code === Status.DEADLINE_EXCEEDED;
      this.limit?.release(t.key, t.limitAt, !sent || cancelled ? 'ignored' : dropped ? 'dropped' : 'success');
    }
    // A call the caller cancelled says nothing of overload: it counts as accepted.
    if (sent) this.adaptive?.record(t.key, !refused);
  }

  /** Shed calls per reason and key. */
  stats(): Record<ShedReason, ReadonlyMap<string, number>> {
    const none = new Map<string, number>();
    return {
      latency: this.latency?.rejections() ?? none,
      adaptive: this.adaptive?.rejections() ?? none,
      concurrency: this.limit?.rejections() ?? none,
    };
  }

  /** Every key the shedders hold state for, with what they would do now. */
  dump(): ShedDump {
    const stats = this.stats();
    const names = new Set<string>();
    for (const part of [this.latency, this.adaptive, this.limit]) for (const k of part?.keys() ?? []) names.add(k);
    const keys: Record<string, ShedKeyDump> = {};
    for (const key of [...names].sort()) {
      const shed: Partial<Record<ShedReason, number>> = {};
      for (const reason of ['latency', 'adaptive', 'concurrency'] as const) {
        const n = stats[reason].get(key);
        if (n !== undefined) shed[reason] = n;
      }
      const fleet = this.adaptive?.fleetCounts(key);
      keys[key] = {
        shed,
        ...(this.latency && { latencyShare: this.latency.share(key) }),
        ...(this.adaptive && { rejectProbability: this.adaptive.probability(key) }),
        ...(fleet && { fleetRequests: fleet.requests, fleetAccepts: fleet.accepts }),
        ...(this.limit && { concurrencyLimit: this.limit.limit(key), inFlight: this.limit.inFlight(key) }),
      };
    }
    if (this.latency === undefined) return { keys };
    return { latencyActive: this.latency.isActive, latencyInFlight: this.latency.callsInFlight, keys };
  }

  private shed(key: string, reason: ShedReason): ShedReason {
    if (this.sheds.size > 0) this.sheds.emit({ type: 'shed', key, reason, time: Date.now() });
    return reason;
  }
}
