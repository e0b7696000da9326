import { type Breaker, NO_PERMIT, type Permit, show } from '@cbsuite/core';
import type { InterceptingCall, Interceptor, InterceptorOptions, NextCall, StatusObject } from '@grpc/grpc-js';
import type { BreakerLevel } from './breaker-level.js';
import { CallObservers } from './call-observer.js';
import type { CallRegistry, CallState } from './call-registry.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { InterceptingCallInterface } from './grpc-types.js';
import { type CallSetup, GuardedCall } from './guarded-call.js';
import { HedgedCall } from './hedged-call.js';
import { hedgingOf, type ResolvedHedging } from './hedging-options.js';
import { loadShedStatus } from './load-shed-error.js';
import type { LoadShedder, ShedTicket } from './load-shedder.js';
import { PUSHBACK_TRAILER } from './pushback.js';
import { RejectedCall } from './rejected-call.js';
import type { RetryControl } from './retry-control.js';
import { type GenServiceCBKeyFunc, type RPCInfo, rpcInfoOf } from './rpc-info.js';

interface PathEntry {
  readonly ri: RPCInfo;
  readonly key: string;
  /** The method's hedging, once asked: null when it is not hedged. */
  hedging?: ResolvedHedging | null;
}

/**
 * The call an interceptor hands grpc-js. grpc-js types it as its
 * `InterceptingCall` class, but uses only the methods of
 * `InterceptingCallInterface` (1.10 … 1.14); wrapping our calls in an
 * `InterceptingCall` would add per call a layer with a listener of three
 * bound functions and a closure per message, which they do not need: they
 * take partial listeners and forward what the caller sends at once.
 */
function served(call: InterceptingCallInterface): InterceptingCall {
  return call as unknown as InterceptingCall;
}

/** Method paths whose key is cached; past it the cache starts over. */
const PATH_CACHE_LIMIT = 10_000;

/**
 * The service-level breaker: a level keyed by `genKey(rpcInfo)`, checked in
 * a client interceptor before a call starts and fed one outcome per logical
 * call from its final status (by the {@link GuardedCall}).
 */
export class ServiceLevel {
  readonly interceptor: Interceptor;
  private readonly paths = new Map<string, PathEntry>();
  /** A status every call fails with while the suite is misconfigured. */
  refusal: StatusObject | undefined = undefined;
  /** Metrics and tracing hooks (`CBSuite.observeCalls`). */
  readonly observers = new CallObservers();
  /** Load shedding after the breaker, when the suite sets it. */
  shedder: LoadShedder | undefined = undefined;

  constructor(
    readonly level: BreakerLevel,
    private readonly registry: CallRegistry,
    private readonly fromService: string,
    private readonly genKey: GenServiceCBKeyFunc,
    private readonly retries: RetryControl,
    /** The suite's `hedging` option as a function of the method, if set. */
    private readonly hedging: ((ri: RPCInfo) => unknown) | undefined = undefined,
  ) {
    this.interceptor = (options, nextCall) => this.intercept(options, nextCall);
  }

  /** The RPC info and key of a call to `path` (cached per path). Throws if `genKey` fails. */
  keyOf(path: string): PathEntry {
    let entry = this.paths.get(path);
    if (entry === undefined) {
      const ri = rpcInfoOf(this.fromService, path);
      const key = this.genKey(ri);
      if (typeof key !== 'string') throw new TypeError(`genServiceKey must return a string, got ${show(key)}`);
      if (this.paths.size >= PATH_CACHE_LIMIT) this.paths.clear();
      entry = { ri, key };
      this.paths.set(path, entry);
    }
    return entry;
  }

  /**
   * The status of a call the breaker of `key` rejected. An OPEN breaker's
   * rejection carries `grpc-retry-pushback-ms`: the time left until it lets a
   * probe through, so that retries (a grpc-js `retryPolicy`, or a caller
   * passing the status on) do not come back sooner.
   */
  private rejection(breaker: Breaker, key: string): StatusObject {
    const status = circuitBreakStatus('service', key);
    const coolsAt = breaker.coolsAt();
    if (coolsAt !== undefined) {
      const leftMs = Math.max(0, Math.ceil(coolsAt - this.level.panel.options.now()));
      status.metadata.set(PUSHBACK_TRAILER, String(leftMs));
    }
    return status;
  }

  /** The method's hedging, asked once per path; a function that throws or answers a bad value is a fault. */
  private hedgingFor(entry: PathEntry, hedging: (ri: RPCInfo) => unknown): ResolvedHedging | undefined {
    if (entry.hedging === undefined) {
      try {
        entry.hedging = hedgingOf(hedging, entry.ri) ?? null;
      } catch (err) {
        entry.hedging = null;
        this.level.fault('hedging', entry.key, err);
      }
    }
    return entry.hedging ?? undefined;
  }

  private intercept(options: InterceptorOptions, nextCall: NextCall): InterceptingCall {
    if (this.refusal !== undefined) return served(new RejectedCall(this.refusal));
    const level = this.level;
    let entry: PathEntry;
    try {
      entry = this.keyOf(options.method_definition.path);
    } catch (err) {
      level.fault('key', undefined, err);
      return served(nextCall(options));
    }
    let breaker: Breaker | undefined;
    let permit: Permit = NO_PERMIT;
    let call: CallState | undefined;
    let ticket: ShedTicket | undefined;
    try {
      // A key whose config disables breaking has no breaker (Kitex), but is still shed when shedding is on.
      breaker = level.breakerFor(entry.key);
      if (breaker !== undefined) {
        permit = level.admit(breaker);
        if (permit === NO_PERMIT) {
          this.observers.rejected(entry.key, entry.ri);
          return served(new RejectedCall(this.rejection(breaker, entry.key)));
        }
      }
      if (this.shedder !== undefined) {
        const admitted = this.shedder.admit(entry.key);
        if (typeof admitted === 'string') {
          breaker?.release(permit);
          return served(new RejectedCall(loadShedStatus(admitted, entry.key)));
        }
        ticket = admitted;
      }
      if (breaker === undefined && ticket === undefined) return served(nextCall(options));
      const def = options.method_definition;
      if (breaker !== undefined) call = this.registry.begin(entry.ri, !def.requestStream && !def.responseStream);
    } catch (err) {
      breaker?.release(permit);
      ticket?.cancel();
      level.fault('check', entry.key, err);
      return served(nextCall(options));
    }
    let first: ReturnType<NextCall>;
    try {
      first = nextCall(options);
    } catch (err) {
      breaker?.release(permit);
      ticket?.cancel();
      if (call !== undefined) this.registry.end(call);
      throw err;
    }
    const setup: CallSetup = {
      options,
      nextCall,
      level,
      key: entry.key,
      ri: entry.ri,
      breaker,
      permit,
      registry: this.registry,
      call,
      retries: this.retries,
      ticket,
      watch: this.observers.started(entry.key, entry.ri),
    };
    // Only idempotent unary calls the instance level tracks are hedged (call.idempotent says both).
    if (call?.idempotent === true && this.hedging !== undefined && breaker !== undefined) {
      const h = this.hedgingFor(entry, this.hedging);
      if (h !== undefined) return served(new HedgedCall({ ...setup, breaker, call }, first, h));
    }
    return served(new GuardedCall(setup, first));
  }
}
