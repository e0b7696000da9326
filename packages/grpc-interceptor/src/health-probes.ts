import { type Breaker, EventEmitter, type Permit } from '@cbsuite/core';
import { type experimental, Metadata, status as Status } from '@grpc/grpc-js';
import { decodeCheckResponse, encodeCheckRequest, HEALTH_CHECK_METHOD, type ServingStatus } from './health-codec.js';
import type { ResolvedHealthCheck } from './health-options.js';

/**
 * How a health probe ended: `serving` (a successful probe), `notServing`
 * (any other answer: `NOT_SERVING`, `SERVICE_UNKNOWN`, `UNKNOWN`, an error
 * status, the timeout; a failed probe), or `unimplemented` (the instance has
 * no health service: it is probed with callers' calls from then on; once per
 * address).
 */
export type HealthProbeResult = 'serving' | 'notServing' | 'unimplemented';

/** One health probe's outcome. */
export interface HealthProbeOutcome {
  readonly address: string;
  readonly result: HealthProbeResult;
  /** The status the server answered, when the call ended OK with a readable response. */
  readonly servingStatus: ServingStatus | undefined;
  /** The gRPC status code the check ended with (`DEADLINE_EXCEEDED` after `timeoutMs`). */
  readonly code: Status;
  readonly details: string;
  /** From the pick that started it to its end, in ms (the instance breakers' clock). */
  readonly durationMs: number;
}

type Subchannel = experimental.SubchannelInterface;
type Call = ReturnType<ReturnType<Subchannel['getRealSubchannel']>['createCall']>;

/**
 * Health-checked probes of the instance level (`healthCheck`). When a pick
 * gets a probe permit from a half-open instance, the probe is a
 * `grpc.health.v1.Health/Check` on the picked subchannel (the connection
 * callers' calls use, with its credentials) and the pick is skipped, so no
 * caller's call goes to the instance while the check decides. Probes are
 * started by picks, at the breaker's detect interval, never by a timer; a
 * check in flight has one timer, its timeout.
 */
export class HealthProbes {
  private readonly running = new Set<string>();
  private readonly unsupported = new Set<string>();
  private readonly counts = new Map<string, Record<HealthProbeResult, number>>();
  private readonly outcomes = new EventEmitter<[HealthProbeOutcome]>();
  /** Listens to each health probe's end. */
  readonly onProbe = this.outcomes.event;

  constructor(
    readonly options: ResolvedHealthCheck,
    /** The instance breakers' clock. */
    private readonly now: () => number,
    /** Reports a fault of the machinery (a breaker that threw on a probe's outcome). */
    private readonly fault: (addr: string, error: unknown) => void,
  ) {}

  /**
   * A pick got the probe `permit` of `addr`'s half-open breaker. Probes it
   * with a health check, unless the instance has no health service. Returns
   * whether the pick must be skipped (a health check holds the probe).
   */
  take(addr: string, breaker: Breaker, permit: Permit, subchannel: Subchannel): boolean {
    if (this.unsupported.has(addr)) return false;
    if (this.running.has(addr)) {
      // One check at a time per instance: this permit goes back unused.
      breaker.release(permit);
      return true;
    }
    this.running.add(addr);
    this.check(addr, breaker, permit, subchannel);
    return true;
  }

  /** Health probes so far, by address and result, for the addresses listed. */
  stats(): ReadonlyMap<string, Readonly<Record<HealthProbeResult, number>>> {
    return new Map([...this.counts].map(([addr, c]) => [addr, { ...c }]));
  }

  /** `addr` left every address list: what was learnt of it goes. */
  forget(addr: string): void {
    this.unsupported.delete(addr);
    this.counts.delete(addr);
  }

  private check(addr: string, breaker: Breaker, permit: Permit, subchannel: Subchannel): void {
    const now = this.now;
    const started = now();
    let serving: ServingStatus | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (code: Status, details: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.running.delete(addr);
      this.settle(
        { address: addr, result: 'notServing', servingStatus: serving, code, details, durationMs: now() - started },
        breaker,
        permit,
      );
    };
    let call: Call;
    try {
      const metadata = new Metadata();
      metadata.set('grpc-timeout', `${Math.ceil(this.options.timeoutMs)}m`);
      call = subchannel.getRealSubchannel().createCall(metadata, addr, HEALTH_CHECK_METHOD, {
        onReceiveMetadata: () => {},
        onReceiveMessage: (message: Buffer) => {
          serving = decodeCheckResponse(message);
          call.startRead();
        },
        onReceiveStatus: (s) => finish(s.code, s.details),
      });
    } catch (err) {
      // The subchannel stopped being READY between the pick and the check.
      finish(Status.UNAVAILABLE, err instanceof Error ? err.message : String(err));
      return;
    }
    if (done) return;
    timer = setTimeout(() => {
      call.cancelWithStatus(Status.DEADLINE_EXCEEDED, `health check timed out after ${this.options.timeoutMs} ms`);
    }, this.options.timeoutMs);
    timer.unref();
    call.sendMessageWithContext({}, encodeCheckRequest(this.options.service));
    call.halfClose();
    call.startRead();
  }

  private settle(o: HealthProbeOutcome, breaker: Breaker, permit: Permit): void {
    let result: HealthProbeResult = 'notServing';
    if (o.code === Status.UNIMPLEMENTED) result = 'unimplemented';
    else if (o.code === Status.OK && o.servingStatus === 'SERVING') result = 'serving';
    try {
      if (result === 'serving') breaker.succeed(undefined, permit);
      else if (result === 'notServing') breaker.fail(undefined, permit);
      else {
        this.unsupported.add(o.address);
        // The next pick probes with a caller's call, without waiting out the detect interval.
        breaker.release(permit);
      }
    } catch (err) {
      this.fault(o.address, err);
    }
    let c = this.counts.get(o.address);
    if (c === undefined) {
      c = { serving: 0, notServing: 0, unimplemented: 0 };
      this.counts.set(o.address, c);
    }
    c[result]++;
    this.outcomes.emit({ ...o, result });
  }
}
