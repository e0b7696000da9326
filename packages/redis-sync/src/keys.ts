import { createHash } from 'node:crypto';
import { show } from '@cbsuite/core';

const NAMESPACE = /^[A-Za-z0-9._-]{1,64}$/;
const PLAIN_KEY = /^[A-Za-z0-9._/:@-]{1,128}$/;

/** Checks a namespace: 1-64 characters of `A-Z a-z 0-9 . _ -`. */
export function checkNamespace(ns: unknown): string {
  if (typeof ns !== 'string' || !NAMESPACE.test(ns)) {
    throw new TypeError(`namespace must be 1-64 characters of A-Z a-z 0-9 . _ -, got ${show(ns)}`);
  }
  return ns;
}

/**
 * The part of Redis keys that names one breaker: its scope and key, as they
 * are when short and plain, else a hash (breaker keys may hold any character,
 * braces included, which would break Redis Cluster hash tags).
 */
export function breakerTag(scope: string, key: string): string {
  const k = PLAIN_KEY.test(key) ? key : `~${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
  return `${scope}:${k}`;
}

/**
 * Redis keys of one namespace. The keys of one breaker share a hash tag
 * (`{scope:key}`), so each breaker's script runs on one Redis Cluster slot.
 */
export class Keys {
  /** Pub/sub channel of state and config messages. */
  readonly channel: string;
  /** Sorted set of breakers whose state is stored, scored by expiry: nodes that join catch up from it. */
  readonly index: string;
  /** Hash of published configs. */
  readonly config: string;

  constructor(readonly ns: string) {
    this.channel = `${ns}:events`;
    this.index = `${ns}:index`;
    this.config = `${ns}:config`;
  }

  /** [window counts, failing nodes, state, probe lease] of one breaker. */
  breaker(tag: string): [window: string, nodes: string, state: string, lease: string] {
    const base = `${this.ns}:{${tag}}`;
    return [`${base}:w`, `${base}:n`, `${base}:s`, `${base}:l`];
  }
}
