import { circuitBreakLevel } from '@cbsuite/grpc-interceptor';
import type { EchoClient } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';

/** How the load calls. */
export interface LoadOptions {
  readonly ratePerSec: number;
  /** Calls in flight at most; a call due while that many are in flight is not made. */
  readonly maxInFlight: number;
  readonly deadlineMs: number;
}

/** Outcomes of the load's calls, cumulative. */
export interface LoadCounts {
  readonly calls: number;
  readonly ok: number;
  readonly failed: number;
  readonly rejectedService: number;
  readonly rejectedInstance: number;
}

const TICK_MS = 10;

/**
 * Steady unary `Say` calls at a fixed rate, with a bound on the calls in
 * flight, each ending one way: a reply, a failure the caller sees, or a
 * breaker's rejection (service or instance level).
 */
export class Load {
  private counts = { calls: 0, ok: 0, failed: 0, rejectedService: 0, rejectedInstance: 0 };
  private readonly answered = new Map<string, number>();
  private inFlightNow = 0;
  private slots = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void) | undefined;

  constructor(
    private readonly client: EchoClient,
    private readonly options: LoadOptions,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops making calls and waits for those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.inFlightNow > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  counters(): LoadCounts {
    return { ...this.counts };
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Replies by the instance that answered. */
  answeredBy(): ReadonlyMap<string, number> {
    return this.answered;
  }

  // Calls due since the start are made now; those due while the bound is
  // reached are skipped, not queued, so the load never builds a backlog.
  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) * this.options.ratePerSec) / 1000);
    for (; this.slots < due; this.slots++) if (this.inFlightNow < this.options.maxInFlight) this.call();
  }

  private call(): void {
    this.counts.calls++;
    this.inFlightNow++;
    const options = { deadline: Date.now() + this.options.deadlineMs };
    this.client.Say({ text: 'hello' }, new grpc.Metadata(), options, (err, reply) => {
      this.inFlightNow--;
      if (err === null) {
        this.counts.ok++;
        const who = reply?.instance ?? '?';
        this.answered.set(who, (this.answered.get(who) ?? 0) + 1);
      } else {
        const level = circuitBreakLevel(err);
        if (level === 'service') this.counts.rejectedService++;
        else if (level === 'instance') this.counts.rejectedInstance++;
        else this.counts.failed++;
      }
      if (this.inFlightNow === 0 && this.timer === undefined) this.idle?.();
    });
  }
}
