import { createHash } from 'node:crypto';

const PLAIN_KEY = /^[A-Za-z0-9._/:@-]{1,128}$/;

/**
 * The part of Redis keys that names one breaker: its scope and key, as they
 * are when short and plain, else a hash (breaker keys may hold any character,
 * braces included, which would break Redis Cluster hash tags).
 */
export function breakerTag(scope: string, key: string): string {
  const k = PLAIN_KEY.test(key) ? key : `~${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
  return `${scope}:${k}`;
}

/** The Redis keys of one breaker. */
export interface BreakerKeys {
  /** Its key group. */
  readonly group: number;
  /** Hash: window totals and buckets, stored state, probe lease. */
  readonly window: string;
  /** Sorted set: erring nodes, scored by their badness (thousandths). */
  readonly failing: string;
  /** Sorted set: the same nodes, scored by the server time of their report (to drop the ones gone quiet). */
  readonly failingAt: string;
  /** Sorted set: nodes that reported the key, scored likewise. */
  readonly reporting: string;
  /** The breaker's member in its group's index of open keys: `scope\nkey`. */
  readonly member: string;
}

/** The Redis Cluster slot of a hash tag: CRC16 (XMODEM) of its bytes, modulo 16384. */
export function slotOf(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Redis keys of one namespace. Breakers are spread over key groups by a hash
 * of their scope and key; a group's keys share a hash tag, so one script call
 * covers them on Redis Cluster, and one pub/sub channel carries their states.
 *
 * The tags are chosen so that group `g` of `G` falls in the `g`-th of `G`
 * equal ranges of slots: masters that split the slots evenly get the same
 * number of groups (when `G` is a multiple of their number: the default 12
 * suits 2, 3, 4, 6 and 12 masters).
 */
export class Keys {
  /** Hash of published configs and forced modes. */
  readonly config: string;
  /** Channel of config and mode messages. */
  readonly configChannel: string;
  private readonly tags: string[];

  constructor(
    readonly ns: string,
    readonly groups: number,
  ) {
    this.config = `${ns}:{${ns}:cfg}:h`;
    this.configChannel = `${ns}:{${ns}:cfg}:c`;
    this.tags = [];
    for (let g = 0; g < groups; g++) {
      const lo = Math.floor((g * 16384) / groups);
      const hi = Math.floor(((g + 1) * 16384) / groups);
      let tag = `${ns}:${g}`;
      for (let n = 0; n < 100_000; n++) {
        const slot = slotOf(tag);
        if (slot >= lo && slot < hi) break;
        tag = `${ns}:${g}.${n}`;
      }
      this.tags.push(tag);
    }
  }

  /** The key group of (scope, key): FNV-1a, so every node and every version agrees. */
  groupOf(scope: string, key: string): number {
    let h = 0x811c9dc5;
    const s = `${scope}\n${key}`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.groups;
  }

  breaker(scope: string, key: string): BreakerKeys {
    const group = this.groupOf(scope, key);
    const base = `${this.ns}:{${this.tags[group]}}:${breakerTag(scope, key)}`;
    return {
      group,
      window: `${base}:w`,
      failing: `${base}:f`,
      failingAt: `${base}:ft`,
      reporting: `${base}:r`,
      member: `${scope}\n${key}`,
    };
  }

  /** A node incarnation's hash of flush sequence numbers (one field per group), in a group's slot. */
  seq(group: number, token: string): string {
    return `${this.ns}:{${this.tags[group]}}:q:${token}`;
  }

  /** A group's index of open keys (sorted set scored by when their state expires). */
  index(group: number): string {
    return `${this.ns}:{${this.tags[group]}}:i`;
  }

  /** A group's channel of state messages. */
  channel(group: number): string {
    return `${this.ns}:{${this.tags[group]}}:c`;
  }

  /** The group a channel belongs to, or undefined. */
  groupOfChannel(channel: string): number | undefined {
    const g = this.tags.findIndex((tag) => channel === `${this.ns}:{${tag}}:c`);
    return g < 0 ? undefined : g;
  }
}
