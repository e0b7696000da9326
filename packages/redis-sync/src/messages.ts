import { createHmac, timingSafeEqual } from 'node:crypto';

/** A breaker's fleet state, as stored in Redis and published. Times are the Redis server's, in ms. */
export interface StateMessage {
  readonly v: 1;
  readonly t: 'state';
  readonly scope: string;
  readonly key: string;
  readonly state: 'open' | 'closed';
  /** When the state was written (orders messages). */
  readonly ts: number;
  /** OPEN only: when it opened, how long it cools, failed probes so far. */
  readonly openedAt: number;
  readonly coolingMs: number;
  readonly attempt: number;
  readonly node: string;
  readonly sig?: string;
}

/** A config value published to the fleet. */
export interface ConfigMessage {
  readonly v: 1;
  readonly t: 'config';
  readonly scope: string;
  readonly key: string;
  readonly value: unknown;
  readonly ts: number;
  readonly node: string;
  readonly sig?: string;
}

export type Message = StateMessage | ConfigMessage;

/** Why a message read from Redis was refused. */
export type Refusal = 'garbage' | 'forged' | 'oversized';

/** Messages larger than this are refused unread. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
const DAY = 86_400_000;
const MAX_TS = 8.64e15;

const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;
const int = (v: unknown, min: number, max: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** The bytes a signature covers: the message's fields in a fixed order, without `sig`. */
function canonical(m: Message): string {
  return m.t === 'state'
    ? JSON.stringify([m.v, m.t, m.scope, m.key, m.state, m.ts, m.openedAt, m.coolingMs, m.attempt, m.node])
    : JSON.stringify([m.v, m.t, m.scope, m.key, m.value, m.ts, m.node]);
}

/** Signs and serialises messages, and checks what comes back from Redis. */
export class MessageCodec {
  constructor(private readonly secret: Buffer | undefined) {}

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
    if (m.v !== 1 || !str(m.scope, 64) || typeof m.key !== 'string' || m.key.length > 4096) return 'garbage';
    if (!str(m.node, 128) || !int(m.ts, 0, MAX_TS)) return 'garbage';
    if (m.t === 'state') {
      // A state names a breaker; a config may be a default, under the empty key.
      if (m.key === '' || (m.state !== 'open' && m.state !== 'closed')) return 'garbage';
      if (!int(m.openedAt, 0, MAX_TS) || !int(m.coolingMs, 0, DAY) || !int(m.attempt, 0, 1_000_000)) return 'garbage';
    } else if (m.t === 'config') {
      if (!('value' in m)) return 'garbage';
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
}
