import type { Breaker, Permit } from '@cbsuite/core';
import type { InterceptorOptions, NextCall } from '@grpc/grpc-js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallWatch } from './call-observer.js';
import type { CallRegistry, CallState } from './call-registry.js';
import type { ShedTicket } from './load-shedder.js';
import type { RetryControl } from './retry-control.js';
import type { RPCInfo } from './rpc-info.js';

/**
 * What the service level hands the call it lets through (a `GuardedCall`, or
 * a `HedgedCall`): the call as grpc-js gave it, what the breaker and the
 * shedder granted, and the suite's parts the call reports to.
 */
export interface CallSetup {
  readonly options: InterceptorOptions;
  readonly nextCall: NextCall;
  readonly level: BreakerLevel;
  readonly key: string;
  readonly ri: RPCInfo;
  /** Undefined when the key's config disables breaking (the call is then only shed, if shedding is on). */
  readonly breaker: Breaker | undefined;
  readonly permit: Permit;
  readonly registry: CallRegistry;
  /** The call at the instance level, while a channel of the suite runs the instance policy. */
  readonly call: CallState | undefined;
  readonly retries: RetryControl;
  readonly ticket: ShedTicket | undefined;
  readonly watch: CallWatch | undefined;
}

/** A call the service level hedges: it has a breaker, and the instance level tracks it. */
export interface HedgeSetup extends CallSetup {
  readonly breaker: Breaker;
  readonly call: CallState;
}
