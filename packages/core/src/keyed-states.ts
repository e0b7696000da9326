/**
 * The per-key state of a shedder: a map with the last key looked up kept at
 * hand, since a call is decided and then ended under the same key, usually
 * with no other key in between (as `Panel` does). Each state counts the
 * calls rejected under its key.
 */
export class KeyedStates<S extends { rejections: number }> {
  private readonly states = new Map<string, S>();
  private lastKey: string | undefined = undefined;
  private last: S | undefined = undefined;

  /** @param make a new key's state. */
  constructor(private readonly make: () => S) {}

  /** The state of `key`, if it has one. */
  find(key: string): S | undefined {
    if (key === this.lastKey) return this.last;
    const s = this.states.get(key);
    this.lastKey = key;
    this.last = s;
    return s;
  }

  /** The state of `key`, made if it has none. */
  get(key: string): S {
    let s = this.find(key);
    if (s === undefined) {
      s = this.make();
      this.states.set(key, s);
      this.last = s;
    }
    return s;
  }

  /** Forgets `key`; returns the state it had. */
  remove(key: string): S | undefined {
    const s = this.find(key);
    if (s === undefined) return undefined;
    this.states.delete(key);
    this.lastKey = this.last = undefined;
    return s;
  }

  /** The keys that have a state. */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  /** The states, one per key. */
  values(): IterableIterator<S> {
    return this.states.values();
  }

  /** Calls rejected per key since each key was first seen (keys with none left out). */
  rejections(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, s] of this.states) if (s.rejections > 0) out.set(k, s.rejections);
    return out;
  }
}
