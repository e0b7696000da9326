import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Mode } from '@cbsuite/core';

/** The wire version of messages; nodes refuse others. */
export const WIRE_VERSION = 2;

/** A breaker's fleet state, as stored in Redis and published. Times are the Redis server's, in ms. */
export interface StateMessage {
  readonly v: typeof WIRE_VERSION;
  readonly t: 'state';
  readonly scope: string;
  readonly key: string;
  readonly state: 'open' | 'closed';
  /** When the state was written: its version, newer wins. */
  readonly ts: number;
  /** When the state stops meaning anything: nodes refuse it after that. */
  readonly until: number;
  /** OPEN only: when it opened, how long it cools, failed probes so far. */
  readonly openedAt: number;
  readonly coolingMs: number;
  readonly attempt: number;
  readonly node: string;
  readonly sig?: string;
}

/** A config value published to the fleet. */
export interface ConfigMessage {
  readonly v: typeof WIRE_VERSION;
  readonly t: 'config';
  readonly scope: string;
  readonly key: string;
  readonly value: unknown;
  /** Its version (server ms): a node refuses one older than it has. */
  readonly ver: number;
  readonly node: string;
  readonly sig?: string;
}

/** A forced mode published to the fleet. */
export interface ModeMessage {
  readonly v: typeof WIRE_VERSION;
  readonly t: 'mode';
  readonly scope: string;
  readonly key: string;
  readonly mode: Mode;
  readonly ver: number;
  readonly node: string;
  readonly sig?: string;
}

export type Message = StateMessage | ConfigMessage | ModeMessage;

/**
 * Why something read from Redis was refused: not a valid message or record
 * (`garbage`), a failed signature (`forged`), too large (`oversized`), older
 * than what the node has (`stale`), past its validity (`expired`), dated
 * beyond the skew bound (`future`), or counts beyond the plausible bound
 * (`implausible`).
 */
export type Refusal = 'garbage' | 'forged' | 'oversized' | 'stale' | 'expired' | 'future' | 'implausible';

/** Every refusal reason, for counters. */
export const REFUSALS: readonly Refusal[] = [
  'garbage',
  'forged',
  'oversized',
  'stale',
  'expired',
  'future',
  'implausible',
];

/** Messages larger than this are refused unread. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
const DAY = 86_400_000;
const MAX_TS = 8.64e15;
const MODES: readonly string[] = ['normal', 'disabled', 'metricsOnly', 'forcedOpen'];
/** Bytes of a short signature (lease values, failing-node entries). */
const SHORT_SIG_BYTES = 16;

const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;
const int = (v: unknown, min: number, max: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** The bytes a signature covers: the message's fields in a fixed order, without `sig`. */
function canonical(m: Message): string {
  if (m.t === 'state') {
    return JSON.stringify([
      m.v,
      m.t,
      m.scope,
      m.key,
      m.state,
      m.ts,
      m.until,
      m.openedAt,
      m.coolingMs,
      m.attempt,
      m.node,
    ]);
  }
  if (m.t === 'mode') return JSON.stringify([m.v, m.t, m.scope, m.key, m.mode, m.ver, m.node]);
  return JSON.stringify([m.v, m.t, m.scope, m.key, m.value, m.ver, m.node]);
}

/**
 * Signs and serialises messages, and checks what comes back from Redis. With
 * a secret it also signs the short values nodes act on (probe leases,
 * failing-node entries), bound to the namespace.
 */
export class MessageCodec {
  constructor(
    private readonly secret: Buffer | undefined,
    private readonly ns: string,
  ) {}

  get signs(): boolean {
    return this.secret !== undefined;
  }

  encode(m: Message): string {
    if (this.secret === undefined) return JSON.stringify(m);
    const sig = createHmac('sha256', this.secret).update(canonical(m)).digest('base64url');
    return JSON.stringify({ ...m, sig });
  }

  /**
   * Parses and checks a message read from Redis: size, shape, ranges, and the
   * signature when a secret is set. Returns the message or why it was refused.
   */
  decode(raw: unknown): Message | Refusal {
    if (typeof raw !== 'string' && !Buffer.isBuffer(raw)) return 'garbage';
    if (raw.length > MAX_MESSAGE_BYTES) return 'oversized';
    let m: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'garbage';
      m = parsed as Record<string, unknown>;
    } catch {
      return 'garbage';
    }
    if (m.v !== WIRE_VERSION || !str(m.scope, 64) || typeof m.key !== 'string' || m.key.length > 4096) return 'garbage';
    if (!str(m.node, 128)) return 'garbage';
    if (m.t === 'state') {
      if (m.key === '' || (m.state !== 'open' && m.state !== 'closed')) return 'garbage';
      if (!int(m.ts, 0, MAX_TS) || !int(m.until, 0, MAX_TS) || !int(m.openedAt, 0, MAX_TS)) return 'garbage';
      if (!int(m.coolingMs, 0, DAY) || !int(m.attempt, 0, 1_000_000)) return 'garbage';
    } else if (m.t === 'config') {
      // A config may be a default, under the empty key.
      if (!('value' in m) || !int(m.ver, 0, MAX_TS)) return 'garbage';
    } else if (m.t === 'mode') {
      if (m.key === '' || typeof m.mode !== 'string' || !MODES.includes(m.mode) || !int(m.ver, 0, MAX_TS)) {
        return 'garbage';
      }
    } else {
      return 'garbage';
    }
    const msg = m as unknown as Message;
    if (this.secret !== undefined) {
      if (typeof m.sig !== 'string') return 'forged';
      const want = createHmac('sha256', this.secret).update(canonical(msg)).digest();
      const got = Buffer.from(m.sig, 'base64url');
      if (got.length !== want.length || !timingSafeEqual(got, want)) return 'forged';
    }
    return msg;
  }

  /** A short signature of `parts` (base64url), bound to the namespace; '' without a secret. */
  sign(...parts: string[]): string {
    if (this.secret === undefined) return '';
    return createHmac('sha256', this.secret)
      .update(JSON.stringify([this.ns, ...parts]))
      .digest()
      .subarray(0, SHORT_SIG_BYTES)
      .toString('base64url');
  }

  /** Whether `sig` is {@link sign} of `parts`; always true without a secret. */
  verify(sig: string, ...parts: string[]): boolean {
    if (this.secret === undefined) return true;
    const want = Buffer.from(this.sign(...parts), 'base64url');
    const got = Buffer.from(sig, 'base64url');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
