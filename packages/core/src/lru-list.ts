/** An entry of an {@link LruList}: a value and its neighbours. */
export class LruEntry<T> {
  prev: LruEntry<T> | undefined = undefined;
  next: LruEntry<T> | undefined = undefined;
  constructor(readonly value: T) {}
}

/**
 * Entries in least-recently-used order, oldest first: a doubly linked list,
 * so that moving an entry to the end costs a few pointer writes (a `Map`'s
 * delete and set cost two hash operations).
 */
export class LruList<T> {
  head: LruEntry<T> | undefined = undefined;
  private tail: LruEntry<T> | undefined = undefined;

  /** Puts `e` (not in the list) at the end. */
  append(e: LruEntry<T>): void {
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail === undefined) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }

  /** Takes `e` out of the list. */
  remove(e: LruEntry<T>): void {
    const { prev, next } = e;
    if (prev === undefined) {
      if (this.head === e) this.head = next;
    } else prev.next = next;
    if (next === undefined) {
      if (this.tail === e) this.tail = prev;
    } else next.prev = prev;
    e.prev = e.next = undefined;
  }

  /** Moves `e` (in the list) to the end: it was just used. */
  touch(e: LruEntry<T>): void {
    if (e === this.tail) return;
    this.remove(e);
    this.append(e);
  }

  /** Empties the list. */
  clear(): void {
    this.head = this.tail = undefined;
  }
}
