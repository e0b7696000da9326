import { type Breaker, NO_PERMIT, type Permit } from '@cbsuite/core';
import type { CBSuite } from '@cbsuite/grpc-interceptor';
import {
  type CallState,
  circuitBreakStatus,
  loadShedStatus,
  type ServiceLevel,
  type ShedTicket,
  suiteInternals,
} from '@cbsuite/grpc-interceptor/internals';
import type { StatusObject } from '@grpc/grpc-js';
import { type CallOptions, ClientError, type ClientMiddleware, type ClientMiddlewareCall } from 'nice-grpc-common';
import { circuitBreakClientError, loadShedClientError } from './rejection.js';
import { type GuardedRun, type MiddlewareRun, runStreaming, runUnary } from './run.js';

/** Call options this middleware reads: a `deadline` (as `nice-grpc-client-middleware-deadline` takes it) bounds retries. */
export interface CBSuiteCallOptions {
  /** The call's deadline: a Date, or milliseconds from the call's start. Retries stop at it. */
  deadline?: Date | number;
}

/**
 * The service-level breaker of `cbs` as a nice-grpc client middleware: the
 * same breakers as `cbs.interceptor()` (key `cbs.serviceKey(path)`, configs,
 * events, `stats()`, fleet sync, `serviceShedding`), one outcome per logical
 * call from its final status through the suite's service classifier, and,
 * with `cbs.channelOptions()` on the channel, unary calls retried on another
 * instance by the interceptor's rule.
 *
 * A rejected call is never sent: it throws a `ClientError` with `UNAVAILABLE`
 * and Kitex's text as details, which {@link isCircuitBreakError} recognises.
 * Attach it last, so that it is the outermost middleware:
 *
 * ```ts
 * const channel = createChannel(address, ChannelCredentials.createInsecure(), cbs.channelOptions());
 * const client = createClientFactory().use(cbsuiteMiddleware(cbs)).create(definition, channel);
 * ```
 *
 * @throws TypeError naming `cbs` when it is not a CBSuite.
 */
export function cbsuiteMiddleware(cbs: CBSuite): ClientMiddleware<CBSuiteCallOptions> {
  const { service, registry, retries } = suiteInternals(cbs);
  return async function* cbsuite<Request, Response>(
    call: ClientMiddlewareCall<Request, Response>,
    options: CallOptions & Partial<CBSuiteCallOptions>,
  ): MiddlewareRun<Response> {
    const run = admit(service, call, options);
    if (run === undefined) return yield* call.next(call.request, options);
    run.registry = registry;
    run.retries = retries;
    if (call.responseStream) return yield* runStreaming(run, call, options);
    return yield* runUnary(run, call, options);
  };
}

/** Asks the breaker and the shedder: a run to make, undefined to pass the call through unguarded, or throws the rejection. */
function admit<Request, Response>(
  service: ServiceLevel,
  call: ClientMiddlewareCall<Request, Response>,
  options: CallOptions & Partial<CBSuiteCallOptions>,
): GuardedRun | undefined {
  const path = call.method.path;
  const refusal = service.refusal;
  if (refusal !== undefined) throw new ClientError(path, refusal.code as number, refusal.details);
  const level = service.level;
  let entry: ReturnType<ServiceLevel['keyOf']>;
  try {
    entry = service.keyOf(path);
  } catch (err) {
    level.fault('key', undefined, err);
    return undefined;
  }
  let breaker: Breaker | undefined;
  let permit: Permit = NO_PERMIT;
  let ticket: ShedTicket | undefined;
  let rejection: ClientError | undefined;
  try {
    breaker = level.breakerFor(entry.key);
    if (breaker !== undefined) {
      permit = level.admit(breaker);
      if (permit === NO_PERMIT) {
        const status: StatusObject = circuitBreakStatus('service', entry.key);
        rejection = circuitBreakClientError(path, status, 'service', entry.key);
      }
    }
    if (rejection === undefined && service.shedder !== undefined) {
      const admitted = service.shedder.admit(entry.key);
      if (typeof admitted === 'string') {
        breaker?.release(permit);
        rejection = loadShedClientError(path, loadShedStatus(admitted, entry.key), admitted, entry.key);
      } else ticket = admitted;
    }
  } catch (err) {
    breaker?.release(permit);
    ticket?.cancel();
    level.fault('check', entry.key, err);
    return undefined;
  }
  if (rejection !== undefined) throw rejection;
  if (breaker === undefined && ticket === undefined) return undefined;
  const startedAt = Date.now();
  return {
    level,
    breaker,
    permit,
    ticket,
    ri: entry.ri,
    key: entry.key,
    startedAt,
    clockAt: level.latencyClock?.(),
    deadlineMs: deadlineOf(options.deadline, startedAt),
    state: undefined as CallState | undefined,
    registry: undefined,
    retries: undefined,
  };
}

function deadlineOf(deadline: Date | number | undefined, startedAt: number): number {
  if (deadline instanceof Date) return deadline.getTime();
  if (typeof deadline === 'number') return startedAt + deadline;
  return Number.POSITIVE_INFINITY;
}
