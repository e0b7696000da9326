import { Breaker } from './breaker.js';
import type { ErrorType } from './error-type.js';
import { type Event, EventEmitter } from './event.js';
import type { Executable, ExecuteOptions, SignalledExecutable, SignalledExecuteOptions } from './execute.js';
import type { PanelSync } from './fleet-sync.js';
import { LruEntry, LruList } from './lru-list.js';
import { type Metricer, MetricsSnapshot } from './metricer.js';
import { OptionTypeError } from './option-error.js';
import { BREAKER_OPTION_NAMES, type BreakerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { NO_PERMIT, PERMIT, type Permit } from './permit.js';
import { Mode, type State } from './state.js';
import type { KeyedStateChangeHandler, TransitionInfo } from './transition.js';
import type { TripFunc } from './trip-funcs.js';
import { checkFunction, checkInteger } from './validate.js';

/** Options of a {@link Panel}: every breaker option, plus the bound on keys. */
export interface PanelOptions extends BreakerOptions {
  /**
   * Most breakers kept at once. Past it, creating a breaker first evicts the
   * least recently used CLOSED breaker whose window is empty; failing that,
   * the least recently used CLOSED one (its counts are lost). OPEN, HALF_OPEN
   * and forced-mode breakers are never evicted: if every candidate is one,
   * the panel grows past the bound and counts it in `stats().overflows`.
   * Default Infinity (gopkg keeps every key until `removeBreaker`).
   */
  readonly maxKeys?: number;
}

/**
 * Validates a panel's options as `new Panel` does. `what` and `path` name where
 * the user wrote them (for example `serviceBreaker`), for adapters that pass
 * options on to a panel and want errors to name the option the user wrote.
 */
export function resolvePanelOptions(
  options: PanelOptions | undefined,
  what = 'Panel options',
  path?: string,
): { readonly options: ResolvedOptions; readonly maxKeys: number } {
  const resolved = resolveOptions(options, PANEL_OPTION_NAMES, what, path);
  const maxKeys = options?.maxKeys;
  const name = path === undefined ? 'maxKeys' : `${path}.maxKeys`;
  return {
    options: resolved,
    maxKeys:
      maxKeys === undefined ? Number.POSITIVE_INFINITY : checkInteger(name, maxKeys, 1, Number.POSITIVE_INFINITY),
  };
}

/** gopkg's `PanelStateChangeHandler`, with the transition's details added. */
export type PanelStateChangeHandler = (key: string, from: State, to: State, m: Metricer, info: TransitionInfo) => void;

/** Counters of a panel's key management. */
export interface PanelStats {
  /** Breakers held now. */
  readonly keys: number;
  /** Breakers evicted to honour `maxKeys`. */
  readonly evictions: number;
  /** Of those, breakers that still had samples in their window. */
  readonly evictionsWithSamples: number;
  /** Breakers created past `maxKeys` because nothing could be evicted. */
  readonly overflows: number;
}

const PANEL_OPTION_NAMES: readonly (keyof PanelOptions)[] = [
  ...BREAKER_OPTION_NAMES,
  ...Object.keys({ maxKeys: true } satisfies Record<Exclude<keyof PanelOptions, keyof BreakerOptions>, true>),
] as (keyof PanelOptions)[];
/** How many of the least recently used breakers an eviction looks at. */
const EVICTION_SCAN = 32;
const EMPTY_METRICER: Metricer = new MetricsSnapshot(0, 0, 0);

/**
 * Breakers by key (gopkg's `Panel`), made lazily on first use with the
 * panel's options. Every method that takes a key creates its breaker if
 * missing, except `getMetricer`, `removeBreaker`, `reset`, `release` and `breaker`.
 *
 * A panel owns no timers; `close()` only drops its breakers.
 */
export class Panel {
  private readonly opts: ResolvedOptions;
  // The breakers themselves, not list entries: with many keys, a lookup that
  // went through an entry reached one more cache line.
  private readonly breakers = new Map<string, Breaker>();
  /** Least recently used first; kept only when bounded (each breaker holds its entry). */
  private readonly lru = new LruList<Breaker>();
  private readonly changes: EventEmitter<Parameters<PanelStateChangeHandler>>;
  private readonly dispatch: KeyedStateChangeHandler;
  /**
   * Subscribes a listener to every transition of any breaker, called
   * synchronously after it, like the constructor's handler. Returns a
   * function that unsubscribes.
   */
  readonly onStateChange: Event<Parameters<PanelStateChangeHandler>>;
  private sync: PanelSync | undefined = undefined;
  private readonly maxKeys: number;
  private readonly bounded: boolean;
  private closed = false;
  // The last breaker looked up: code that checks a key and then records its
  // outcome looks the same key up twice in a row.
  private lastKey: string | undefined = undefined;
  private lastBreaker: Breaker | undefined = undefined;
  private evictions = 0;
  private evictionsWithSamples = 0;
  private overflows = 0;

  /**
   * @param options validated here; throws `OptionTypeError`/`OptionRangeError` naming a bad option.
   * @param onStateChange called synchronously after each transition of any breaker.
   */
  constructor(options?: PanelOptions, onStateChange?: PanelStateChangeHandler) {
    const resolved = resolvePanelOptions(options);
    this.opts = resolved.options;
    this.maxKeys = resolved.maxKeys;
    this.bounded = this.maxKeys !== Number.POSITIVE_INFINITY;
    this.changes = new EventEmitter(this.opts.onHandlerError);
    this.onStateChange = this.changes.event;
    if (onStateChange !== undefined) this.onStateChange(checkFunction('onStateChange', onStateChange));
    this.dispatch = (key, from, to, m, info) => {
      this.changes.emit(key, from, to, m, info);
      this.sync?.transition(this, key, from, to, info);
    };
  }

  /**
   * Shares this panel's breakers with a fleet through `sync` (for example a
   * `RedisSync` of `@cbsuite/redis-sync`). Replaces any sync attached before.
   */
  attachSync(sync: PanelSync): void {
    if (this.closed) return;
    this.sync?.detach(this);
    this.sync = sync;
    for (const b of this.breakers.values()) b.link = sync.link(this, b.key, b);
  }

  /** Stops sharing: breakers decide alone again. */
  detachSync(): void {
    const sync = this.sync;
    if (sync === undefined) return;
    this.sync = undefined;
    for (const b of this.breakers.values()) b.link = undefined;
    sync.detach(this);
  }

  /** The validated options every breaker of this panel uses. */
  get options(): ResolvedOptions {
    return this.opts;
  }

  /** Number of breakers held. */
  get size(): number {
    return this.breakers.size;
  }

  /** Whether a call for `key` may go out now. */
  isAllowed(key: string): boolean {
    return this.getBreaker(key).acquire() !== NO_PERMIT;
  }

  /** `isAllowed` that returns a {@link Permit} to pass back with the outcome. */
  acquire(key: string): Permit {
    return this.getBreaker(key).acquire();
  }

  /** Gives back a permit whose call never went out. */
  release(key: string, permit: Permit): void {
    if (permit > PERMIT) this.breakers.get(key)?.release(permit);
  }

  succeed(key: string, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).succeed(latencyMs, permit);
  }

  fail(key: string, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).fail(latencyMs, permit);
  }

  failWithTrip(key: string, tripFunc: TripFunc, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).failWithTrip(tripFunc, latencyMs, permit);
  }

  timeout(key: string, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).timeout(latencyMs, permit);
  }

  timeoutWithTrip(key: string, tripFunc: TripFunc, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).timeoutWithTrip(tripFunc, latencyMs, permit);
  }

  /** Records an outcome by {@link ErrorType} (Kitex's `RecordStat`). */
  record(key: string, type: ErrorType, latencyMs?: number, permit?: Permit): void {
    this.getBreaker(key).record(type, latencyMs, permit);
  }

  /**
   * Runs `fn` through the breaker for `key`; see {@link Breaker.execute}.
   * With `timeoutMs` or `signal` in `options`, `fn` always gets a signal.
   */
  execute<T>(key: string, fn: SignalledExecutable<T>, options: SignalledExecuteOptions): Promise<T>;
  execute<T>(key: string, fn: Executable<T>, options?: ExecuteOptions): Promise<T>;
  execute<T>(key: string, fn: Executable<T> | SignalledExecutable<T>, options?: ExecuteOptions): Promise<T> {
    return this.getBreaker(key).execute(fn as Executable<T>, options);
  }

  /** Sets a forced mode for `key` (see {@link Mode}). */
  setMode(key: string, mode: Mode): void {
    this.getBreaker(key).setMode(mode);
  }

  /** Empties `key`'s window and closes it (see {@link Breaker.reset}). */
  reset(key: string): void {
    this.breakers.get(key)?.reset();
  }

  /** Drops the breaker for `key`; its next use starts CLOSED with an empty window. */
  removeBreaker(key: string): void {
    const b = this.breakers.get(key);
    if (b !== undefined) this.forget(b);
  }

  /** The breaker for `key`, if it exists (never creates one). */
  breaker(key: string): Breaker | undefined {
    return this.breakers.get(key);
  }

  /** A snapshot of the breakers by key (gopkg's `DumpBreakers`). */
  dumpBreakers(): ReadonlyMap<string, Breaker> {
    return new Map(this.breakers);
  }

  /**
   * The live metricer of `key`. Unlike gopkg, an unknown key gets an empty,
   * frozen metricer and no breaker is created.
   */
  getMetricer(key: string): Metricer {
    return this.breakers.get(key)?.metricer() ?? EMPTY_METRICER;
  }

  /** Counters of key management (evictions for `maxKeys`). */
  stats(): PanelStats {
    return {
      keys: this.breakers.size,
      evictions: this.evictions,
      evictionsWithSamples: this.evictionsWithSamples,
      overflows: this.overflows,
    };
  }

  /**
   * Drops every breaker. Idempotent. Afterwards the panel lets every call
   * through and records nothing, so code still holding it fails open.
   */
  close(): void {
    this.closed = true;
    this.detachSync();
    this.breakers.clear();
    this.lru.clear();
    this.lastKey = this.lastBreaker = undefined;
  }

  /**
   * The breaker for `key`, created if missing. Holding it saves the key
   * lookups of the panel methods, which is what the gRPC adapters do.
   */
  getBreaker(key: string): Breaker {
    if (key === this.lastKey && this.lastBreaker !== undefined) return this.lastBreaker;
    const b = this.breakers.get(key);
    if (b === undefined) return this.create(key);
    this.lastKey = key;
    this.lastBreaker = b;
    if (b.lru !== undefined) this.lru.touch(b.lru);
    return b;
  }

  private create(key: string): Breaker {
    if (typeof key !== 'string') throw new OptionTypeError('key', key, 'must be a string');
    if (this.closed) return INERT;
    if (this.breakers.size >= this.maxKeys) this.evict();
    const b = new Breaker(undefined, undefined, { key, options: this.opts, onStateChange: this.dispatch });
    if (this.sync !== undefined) b.link = this.sync.link(this, key, b);
    this.breakers.set(key, b);
    if (this.bounded) {
      b.lru = new LruEntry(b);
      this.lru.append(b.lru);
    }
    this.lastKey = key;
    this.lastBreaker = b;
    return b;
  }

  private evict(): void {
    let e = this.lru.head;
    let fallback: LruEntry<Breaker> | undefined;
    for (let scanned = 0; e !== undefined && scanned < EVICTION_SCAN; scanned++) {
      const next = e.next;
      const b = e.value;
      // OPEN, HALF_OPEN and forced breakers are never evicted: move them out of the next scan's way.
      if (!b.isClosedNormal()) this.lru.touch(e);
      else if (b.isIdle()) {
        this.drop(b);
        return;
      } else fallback ??= e;
      e = next;
    }
    if (fallback !== undefined) {
      this.evictionsWithSamples++;
      this.drop(fallback.value);
      return;
    }
    this.overflows++;
  }

  private drop(b: Breaker): void {
    this.evictions++;
    this.forget(b);
  }

  private forget(b: Breaker): void {
    this.breakers.delete(b.key);
    if (b.lru !== undefined) {
      this.lru.remove(b.lru);
      b.lru = undefined;
    }
    if (b.link !== undefined) {
      b.link = undefined;
      this.sync?.unlink(this, b.key);
    }
    if (this.lastBreaker === b) this.lastKey = this.lastBreaker = undefined;
  }
}

// What a closed panel hands out: allows everything, records nothing.
const INERT = new Breaker();
INERT.setMode(Mode.Disabled);
