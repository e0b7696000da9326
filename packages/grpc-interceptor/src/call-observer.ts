import { checkFunction, checkKeys, type ErrorType } from '@cbsuite/core';
import type { StatusObject } from '@grpc/grpc-js';
import type { RPCInfo } from './rpc-info.js';

/**
 * Watches the calls of a suite's service level, for metrics and tracing
 * (`CBSuite.observeCalls`). Both methods run synchronously while grpc-js
 * creates the call, so in the caller's async context: the span active there
 * is the call's. A method that throws is reported once as a process warning
 * (`CBSUITE_OBSERVER`) and never reaches the call.
 */
export interface CallObserver {
  /** The service breaker of `key` rejected a call: it was not sent. */
  readonly rejected?: (key: string, ri: RPCInfo) => void;
  /**
   * The service breaker of `key` let a call through. Return a watch to hear
   * how the call ends, or undefined to let it go.
   */
  readonly started?: (key: string, ri: RPCInfo) => CallWatch | undefined;
}

/** One call a {@link CallObserver} chose to watch. */
export interface CallWatch {
  /**
   * The call ended, after the service breaker recorded it: its final status,
   * and how the service classifier counted it (undefined when the classifier
   * failed; the call then counts as ignorable). Called once.
   */
  readonly ended: (status: StatusObject, outcome: ErrorType | undefined) => void;
}

/** The observers of one service level; with none, a call costs one length check. */
export class CallObservers {
  private list: readonly CallObserver[] = [];
  private warned = false;

  /** Adds an observer; returns a function that removes it. */
  add(observer: CallObserver): () => void {
    checkKeys('observer', observer, ['rejected', 'started']);
    for (const name of ['rejected', 'started'] as const) {
      if (observer[name] !== undefined) checkFunction(`observer.${name}`, observer[name]);
    }
    this.list = [...this.list, observer];
    return () => {
      this.list = this.list.filter((o) => o !== observer);
    };
  }

  /** Tells every observer that the breaker of `key` rejected a call. */
  rejected(key: string, ri: RPCInfo): void {
    for (const o of this.list) {
      try {
        o.rejected?.(key, ri);
      } catch (err) {
        this.warn(err);
      }
    }
  }

  /** Asks every observer about a call let through; undefined when none watches it. */
  started(key: string, ri: RPCInfo): CallWatch | undefined {
    // Every call comes here: with no observer it stays a check small enough for V8 to inline.
    return this.list.length === 0 ? undefined : this.watch(key, ri);
  }

  private watch(key: string, ri: RPCInfo): CallWatch | undefined {
    const list = this.list;
    let watches: CallWatch[] | undefined;
    for (const o of list) {
      try {
        const w = o.started?.(key, ri);
        if (w === undefined) continue;
        if (watches === undefined) watches = [w];
        else watches.push(w);
      } catch (err) {
        this.warn(err);
      }
    }
    if (watches === undefined) return undefined;
    const all = watches;
    return {
      ended: (status, outcome) => {
        for (const w of all) {
          try {
            w.ended(status, outcome);
          } catch (err) {
            this.warn(err);
          }
        }
      },
    };
  }

  private warn(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    const message = err instanceof Error ? err.message : String(err);
    process.emitWarning(`cbsuite (call observer): ${message}`, { code: 'CBSUITE_OBSERVER' });
  }
}
