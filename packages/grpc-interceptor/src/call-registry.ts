import { type Breaker, EventEmitter, PERMIT, type Permit } from '@cbsuite/core';
import type { InterceptingListener, Metadata, MetadataOptions, StatusObject } from '@grpc/grpc-js';
import { RETRY_HEADER } from './chain-stop.js';
import { carriesContentType } from './classify.js';
import type { InterceptingCallInterface } from './grpc-types.js';
import type { AttemptReach } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

/**
 * Private header that tags an attempt with its call's id, for adapters whose
 * metadata loses the options of grpc-js's (nice-grpc copies the entries into
 * a new one): the call registry's `headerValue` gives the value. The picker
 * strips it: it never reaches the wire while the policy runs. The
 * interceptor tags through the metadata's options instead.
 */
export const CALL_ID_HEADER = 'x-cbsuite-call';

/** A half-open probe admitted at pick time; the picker marks it started when its attempt starts. */
export interface PendingProbe {
  readonly breaker: Breaker;
  readonly permit: Permit;
  started: boolean;
}

const NONE_TRIED: readonly string[] = Object.freeze([]);

/**
 * What the instance level knows of one logical call, across its attempts.
 *
 * It is also the options of its attempts' metadata ({@link CallRegistry.tag}):
 * grpc-js hands a metadata's options object on to every clone it makes (in
 * every 1.x), so the picker finds the call on the metadata it is given,
 * without a header to write, copy three times and strip, or a map to look
 * the call up in. It answers grpc-js's reads of the options with the
 * caller's.
 */
export class CallState implements MetadataOptions {
  /**
   * The first address this call was sent to, and the others in order; a
   * hedge's live on the call it hedges, so all its attempts share them. Most
   * calls are sent to one address: an array only from the second.
   */
  private sentFirst: string | undefined = undefined;
  private sentMore: string[] | undefined = undefined;
  /** Whether a picker of this suite has seen the call. */
  picked = false;
  /** What the transport observed of the current attempt: the picker's view of it, once picked. */
  transport: AttemptTransport = NOT_PICKED;
  private probe: PendingProbe | undefined = undefined;
  /** The options of the caller's metadata, which this state stands in for on the attempts' copies. */
  callerOptions: MetadataOptions | undefined = undefined;
  /** Whether the registry tracks the call (from begin to end). */
  tracked = true;

  constructor(
    /** The registry that tracks the call: a picker of another suite does not take it. */
    readonly registry: CallRegistry,
    readonly id: number,
    readonly rpcInfo: RPCInfo,
    /** Most attempts (1: no retry on another instance). */
    readonly maxAttempts: number,
    /** Whether attempts that failed at the connection are retried too (the method is idempotent). */
    readonly idempotent: boolean,
    /**
     * The call this one hedges (hedged-call.ts), whose tried instances it
     * shares: a hedge goes only to instances that call has not tried.
     */
    readonly hedged: CallState | undefined = undefined,
  ) {}

  get waitForReady(): boolean | undefined {
    return this.callerOptions?.waitForReady;
  }
  get idempotentRequest(): boolean | undefined {
    return this.callerOptions?.idempotentRequest;
  }
  get cacheableRequest(): boolean | undefined {
    return this.callerOptions?.cacheableRequest;
  }
  get corked(): boolean | undefined {
    return this.callerOptions?.corked;
  }

  /** Whether this is a hedge of another call. */
  get hedge(): boolean {
    return this.hedged !== undefined;
  }

  /** Addresses this call (with its hedges) has been sent to, in order. */
  get tried(): readonly string[] {
    const root = this.hedged ?? this;
    if (root.sentFirst === undefined) return NONE_TRIED;
    return root.sentMore === undefined ? [root.sentFirst] : [root.sentFirst, ...root.sentMore];
  }

  /** Whether this call (or a hedge of it) has been sent to `addr`. */
  hasTried(addr: string): boolean {
    const root = this.hedged ?? this;
    return root.sentFirst === addr || root.sentMore?.includes(addr) === true;
  }

  /** An attempt of the call is picked onto `addr`; a half-open permit stays pending until the attempt starts. */
  pickedOn(addr: string, breaker: Breaker | undefined, permit: Permit): PendingProbe | undefined {
    const root = this.hedged ?? this;
    if (root.sentFirst === undefined) root.sentFirst = addr;
    else if (root.sentMore === undefined) root.sentMore = [addr];
    else root.sentMore.push(addr);
    this.probe = permit > PERMIT && breaker !== undefined ? { breaker, permit, started: false } : undefined;
    return this.probe;
  }

  /** Gives back a probe whose attempt was picked but never started (grpc-js picked again, or the call ended). */
  releaseUnstarted(): void {
    const p = this.probe;
    if (p !== undefined && !p.started) p.breaker.release(p.permit);
    this.probe = undefined;
  }
}

/** Per-call rules the registry applies to a new call. */
export interface AttemptRules {
  /** Most attempts of a unary call. */
  readonly maxAttempts: number;
  /** Methods whose attempts are retried after a connection-level failure too. */
  readonly idempotent: (ri: RPCInfo) => boolean;
}

/**
 * The one owner of the instance level's per-call state: the interceptor
 * begins and ends calls and tags their attempts; the picker finds the call
 * of an attempt by its tag. Calls are tracked only while a channel of the
 * suite runs the instance policy (`active`).
 */
export class CallRegistry {
  /** Calls tagged by header ({@link headerValue}), by id. */
  private readonly byId = new Map<number, CallState>();
  private nextId = 1;
  private live = 0;
  private retriedAttempts = 0;
  private readonly missing = new EventEmitter<[ri: RPCInfo]>();
  /** A call reached a server that no picker of the suite saw: its channel does not run the instance policy. */
  readonly onMissingPolicy = this.missing.event;
  /** Set once a channel uses the suite's instance level; cleared when the suite closes. */
  active = false;

  constructor(private readonly rules: AttemptRules) {}

  /** Starts tracking a call, or returns undefined when the instance level is not in use. */
  begin(ri: RPCInfo, unary: boolean): CallState | undefined {
    if (!this.active) return undefined;
    const id = this.nextId++;
    if (this.nextId > 2 ** 31) this.nextId = 1;
    this.live++;
    return new CallState(this, id, ri, unary ? this.rules.maxAttempts : 1, unary && this.rules.idempotent(ri) === true);
  }

  /**
   * Starts tracking one more attempt of a hedged call, running alongside its
   * others: it has its own transport and probe, and shares the call's tried
   * instances.
   */
  beginHedge(call: CallState): CallState {
    const id = this.nextId++;
    if (this.nextId > 2 ** 31) this.nextId = 1;
    this.live++;
    return new CallState(this, id, call.rpcInfo, 1, true, call.hedged ?? call);
  }

  /** A copy of `metadata` for one attempt of `call`, tagged with it: the call is the copy's options. */
  tag(metadata: Metadata, call: CallState): Metadata {
    const md = metadata.clone();
    call.callerOptions = metadata.getOptions();
    md.setOptions(call);
    return md;
  }

  /**
   * Starts `attempt` of `call` on the caller's `metadata`, tagged. When the
   * attempt is grpc-js's own bottom call over its resolving call, which
   * copies the metadata as it starts, the caller's metadata is tagged for the
   * length of `start` only and then left as it was: that saves a copy per
   * call. Any other next call (an interceptor inside ours may start later, on
   * the metadata it was given) is started on a tagged copy.
   */
  startTagged(
    attempt: InterceptingCallInterface,
    metadata: Metadata,
    call: CallState,
    listener: Partial<InterceptingListener>,
  ): void {
    if (!copiesOnStart(attempt)) {
      attempt.start(this.tag(metadata, call), listener);
      return;
    }
    const own = metadata.getOptions();
    call.callerOptions = own;
    metadata.setOptions(call);
    try {
      attempt.start(metadata, listener);
    } finally {
      metadata.setOptions(own);
    }
  }

  /**
   * Starts attempt `n` (from 1) of `call`, tagged. A retry, and any attempt
   * of a call made while handling a retried request (`chained`), says so
   * (Kitex's RetryReq) in {@link RETRY_HEADER} on a tagged copy of
   * `metadata`; a first attempt that says nothing goes through
   * {@link startTagged}, without a copy when that is safe.
   */
  startAttempt(
    attempt: InterceptingCallInterface,
    metadata: Metadata,
    call: CallState,
    listener: Partial<InterceptingListener>,
    n: number,
    chained: boolean,
  ): void {
    if (n === 1 && !chained) {
      this.startTagged(attempt, metadata, call, listener);
      return;
    }
    const md = this.tag(metadata, call);
    md.set(RETRY_HEADER, String(Math.max(1, n - 1)));
    attempt.start(md, listener);
  }

  /**
   * The value of {@link CALL_ID_HEADER} that tags an attempt of `call`, for
   * an adapter whose metadata cannot carry the call as its options.
   */
  headerValue(call: CallState): string {
    if (call.tracked) this.byId.set(call.id, call);
    return String(call.id);
  }

  /**
   * For the picker: the call an attempt belongs to, read off its metadata's
   * options, or off (and stripped from) its header. Marks the call picked
   * and gives back a probe an earlier pick of it took but never started.
   */
  take(metadata: Metadata): CallState | undefined {
    const options = metadata.getOptions();
    const state =
      options instanceof CallState ? (options.registry === this ? options : undefined) : this.byHeader(metadata);
    // An attempt picked after its call ended (a pick grpc-js deferred) is not the call's.
    if (state === undefined || !state.tracked) return undefined;
    state.picked = true;
    state.releaseUnstarted();
    // grpc-js may pick again within one attempt (a transparent retry): the
    // last pick is the attempt's. Until the picker returns a view, nothing
    // was sent (a record of its own: an earlier view may still hear late).
    state.transport = PICKED_UNSENT;
    return state;
  }

  private byHeader(metadata: Metadata): CallState | undefined {
    const repr = reprOf(metadata);
    const ids = repr === undefined ? metadata.get(CALL_ID_HEADER) : repr.get(CALL_ID_HEADER);
    if (ids === undefined || ids.length === 0) return undefined;
    if (repr === undefined) metadata.remove(CALL_ID_HEADER);
    else repr.delete(CALL_ID_HEADER);
    return this.byId.get(Number(ids[0]));
  }

  /** Stops tracking a call: a probe taken for an attempt that never started is given back. */
  end(call: CallState): void {
    if (!call.tracked || call.registry !== this) return;
    call.tracked = false;
    this.live--;
    if (this.byId.get(call.id) === call) this.byId.delete(call.id);
    call.releaseUnstarted();
  }

  /** An attempt of `call` heard from a server: reports a missing policy when no picker saw it. */
  heard(call: CallState): void {
    if (!call.picked && call.tracked) this.missing.emit(call.rpcInfo);
  }

  /** Counts an attempt retried on another instance. */
  retried(): void {
    this.retriedAttempts++;
  }

  /** Attempts retried on another instance so far. */
  get retries(): number {
    return this.retriedAttempts;
  }

  /** Calls tracked now. */
  get size(): number {
    return this.live;
  }
}

// grpc-js's bottom calls start their call synchronously, and its resolving
// call clones the metadata first thing in start(), in every 1.x (1.10.0 …
// 1.14). Known by their class names, which grpc-js does not export; a name
// that differs (another release, a bundler that renames) means a copy.
const BOTTOM_CALLS: ReadonlySet<string> = new Set([
  'BaseInterceptingCall',
  'BaseUnaryInterceptingCall',
  'BaseStreamingInterceptingCall',
]);

/** Whether `attempt` is grpc-js's bottom call over its resolving call, which copies the metadata as it starts. */
export function copiesOnStart(attempt: object): boolean {
  const inner = (attempt as { call?: unknown }).call;
  if (typeof inner !== 'object' || inner === null) return false;
  return BOTTOM_CALLS.has(attempt.constructor?.name) && inner.constructor?.name === 'ResolvingCall';
}

// Metadata.get and remove lowercase and check their key on every call
// (Metadata.get: about 360 instructions against 45 for a read of the map it
// keeps, the same in every grpc-js 1.x), and take() runs on every attempt.
// CALL_ID_HEADER is lowercase and valid.
function reprOf(metadata: Metadata): Map<string, unknown[]> | undefined {
  const repr = (metadata as unknown as { internalRepr?: unknown }).internalRepr;
  return repr instanceof Map ? (repr as Map<string, unknown[]>) : undefined;
}

/**
 * How the stream of an attempt ended, as the transport saw it:
 *
 * - `server`: the server sent the status (trailers, or a trailers-only response);
 * - `refused`: the server's HTTP/2 layer refused the stream (`REFUSED_STREAM`,
 *   also what a stream cut by a `GOAWAY` gets): its application never saw it;
 * - `reset`: the stream was reset (`RST_STREAM` other than refused, a server's
 *   forced shutdown included) or ended without a gRPC status (a proxy's HTTP
 *   error): the server may have processed it;
 * - `disconnect`: the connection was lost under the stream;
 * - `local`: this client ended it (the caller cancelled, or the deadline passed).
 */
export type StreamEnd = 'server' | 'refused' | 'reset' | 'disconnect' | 'local';

/**
 * What the transport observed of one attempt (of its last pick, when grpc-js
 * picked again). Only the picker's view of the attempt writes to it.
 */
export interface AttemptTransport {
  /** The picker of the suite saw the attempt. */
  readonly picked: boolean;
  /** A stream was opened on an instance. */
  readonly started: boolean;
  /** How the stream ended; undefined while it runs, or when none was opened. */
  readonly end: StreamEnd | undefined;
  /** The status the subchannel call ended with. */
  readonly endStatus: StatusObject | undefined;
}

const NOT_PICKED: AttemptTransport = Object.freeze({
  picked: false,
  started: false,
  end: undefined,
  endStatus: undefined,
});
const PICKED_UNSENT: AttemptTransport = Object.freeze({ ...NOT_PICKED, picked: true });

/** The record of an attempt about to be made, which no picker has seen yet (one shared, frozen record). */
export function newAttemptTransport(): AttemptTransport {
  return NOT_PICKED;
}

/**
 * Whether a server sent `status`: what the transport saw (`end`), when the
 * picker observed the attempt; otherwise an OK, a status after response
 * headers (`heard`), or a trailers-only response (it carries a content-type).
 */
export function sentByServer(end: StreamEnd | undefined, heard: boolean, status: StatusObject): boolean {
  if (end !== undefined) return end === 'server';
  return heard || status.code === 0 || carriesContentType(status);
}

/** How far an attempt got, as the picker's view of its transport saw it (what the retry rule decides from). */
export function reachOf(t: AttemptTransport): AttemptReach {
  if (!t.picked) return 'unknown';
  if (!t.started) return 'unsent';
  switch (t.end) {
    case 'server':
      return 'answered';
    case 'refused':
      return 'refused';
    case 'reset':
    case 'disconnect':
      return 'lost';
    case 'local':
      return 'local';
    default:
      return 'unknown';
  }
}
