/** Removes the listener it was returned for. Calling it again does nothing. */
export type Disposer = () => void;

/**
 * A listener API, after cockatiel's `Event`: call it with a listener to
 * subscribe; the returned {@link Disposer} unsubscribes. `A` is the
 * listener's argument list.
 */
export type Event<A extends readonly unknown[]> = (listener: (...args: A) => void) => Disposer;

const NONE: readonly never[] = Object.freeze([]);

/**
 * The listeners of one event. Listeners are called in the order they were
 * added; one that throws does not stop the others, and its error goes to
 * `onListenerError` (default: `console.error`). Adding or removing a listener during `emit` applies to the next one.
 */
export class EventEmitter<A extends readonly unknown[]> {
  // Copied on write, so emit iterates without a copy and without a Set.
  private list: readonly ((...args: A) => void)[] = NONE;

  /** Subscribes a listener; hand this out as the public `onX` member. */
  readonly event: Event<A> = (listener) => {
    if (typeof listener !== 'function') throw new TypeError(`listener must be a function, got ${typeof listener}`);
    this.list = [...this.list, listener];
    let added = true;
    return () => {
      if (!added) return;
      added = false;
      const i = this.list.indexOf(listener);
      if (i >= 0) this.list = [...this.list.slice(0, i), ...this.list.slice(i + 1)];
    };
  };

  constructor(private readonly onListenerError: (err: unknown) => void = reportListenerError) {}

  /** Listeners subscribed now. */
  get size(): number {
    return this.list.length;
  }

  /** Calls every listener with `args`. */
  emit(...args: A): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as (...args: A) => void)(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.list = NONE;
  }
}

function reportListenerError(err: unknown): void {
  console.error('a listener threw:', err);
}
