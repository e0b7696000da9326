import { type Breaker, EventEmitter, PERMIT, type Permit } from '@cbsuite/core';
import type { Metadata, StatusObject } from '@grpc/grpc-js';
import { carriesContentType } from './classify.js';
import type { AttemptReach } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

/**
 * Private header the interceptor puts on each attempt so that the picker can
 * tell the attempts of one logical call apart. The picker strips it: it
 * never reaches the wire while the policy runs.
 */
export const CALL_ID_HEADER = 'x-cbsuite-call';

/** A half-open probe admitted at pick time; the picker marks it started when its attempt starts. */
export interface PendingProbe {
  readonly breaker: Breaker;
  readonly permit: Permit;
  started: boolean;
}

const NONE_TRIED: readonly string[] = Object.freeze([]);

/** What the instance level knows of one logical call, across its attempts. */
export class CallState {
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

  constructor(
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
  private readonly calls = new Map<number, CallState>();
  private nextId = 1;
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
    const state = new CallState(
      id,
      ri,
      unary ? this.rules.maxAttempts : 1,
      unary && this.rules.idempotent(ri) === true,
    );
    this.calls.set(id, state);
    return state;
  }

  /**
   * Starts tracking one more attempt of a hedged call, running alongside its
   * others: it has its own transport and probe, and shares the call's tried
   * instances.
   */
  beginHedge(call: CallState): CallState {
    const id = this.nextId++;
    if (this.nextId > 2 ** 31) this.nextId = 1;
    const state = new CallState(id, call.rpcInfo, 1, true, call.hedged ?? call);
    this.calls.set(id, state);
    return state;
  }

  /** A copy of `metadata` tagged with the call's id, for one attempt. */
  tag(metadata: Metadata, call: CallState): Metadata {
    const md = metadata.clone();
    const repr = reprOf(md);
    // The key and value are known to be valid: skip Metadata.set's checks.
    if (repr !== undefined) repr.set(CALL_ID_HEADER, [String(call.id)]);
    else md.set(CALL_ID_HEADER, String(call.id));
    return md;
  }

  /**
   * For the picker: the call an attempt belongs to, read off and stripped
   * from its metadata. Marks the call picked and gives back a probe an
   * earlier pick of it took but never started.
   */
  take(metadata: Metadata): CallState | undefined {
    const repr = reprOf(metadata);
    const ids = repr === undefined ? metadata.get(CALL_ID_HEADER) : repr.get(CALL_ID_HEADER);
    if (ids === undefined || ids.length === 0) return undefined;
    if (repr === undefined) metadata.remove(CALL_ID_HEADER);
    else repr.delete(CALL_ID_HEADER);
    const state = this.calls.get(Number(ids[0]));
    if (state !== undefined) {
      state.picked = true;
      state.releaseUnstarted();
      // grpc-js may pick again within one attempt (a transparent retry): the
      // last pick is the attempt's. Until the picker returns a view, nothing
      // was sent (a record of its own: an earlier view may still hear late).
      state.transport = PICKED_UNSENT;
    }
    return state;
  }

  /** The state of call `id`. */
  get(id: number): CallState | undefined {
    return this.calls.get(id);
  }

  /** Stops tracking a call: a probe taken for an attempt that never started is given back. */
  end(call: CallState): void {
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    call.releaseUnstarted();
  }

  /** An attempt of `call` heard from a server: reports a missing policy when no picker saw it. */
  heard(call: CallState): void {
    if (!call.picked && this.calls.get(call.id) === call) this.missing.emit(call.rpcInfo);
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
    return this.calls.size;
  }
}

// Metadata.get, set and remove lowercase and check their key on every call
// (Metadata.get: about 360 instructions against 45 for a read of the map it
// keeps, the same in every grpc-js 1.x), and tag() and take() run on every
// attempt. CALL_ID_HEADER is lowercase and valid, and so are the ids.
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
