import { circuitBreakLevel, isLoadShedError } from '@cbsuite/grpc-interceptor';
import * as grpc from '@grpc/grpc-js';
import type { EchoClient } from './echo.js';

/** How the load calls. */
export interface LoadOptions {
  readonly ratePerSec: number;
  readonly deadlineMs: number;
  /** Calls in flight at most; a call due while that many are in flight is not made. Default: no bound. */
  readonly maxInFlight?: number;
  /**
   * Whether a late tick makes up for the calls it was late for: each tick
   * makes every call due since the start. Default: a tick makes a tick's
   * share of calls, whenever it comes.
   */
  readonly catchUp?: boolean;
  /** The text of each call, followed by its number. Default `hello` alone. */
  readonly textPrefix?: string;
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
 * Steady unary `Say` calls at a fixed rate, optionally with a bound on the
 * calls in flight, each ending one way: a reply, a failure the caller sees,
 * or a breaker's rejection (service or instance level).
 */
export class Load {
  private counts = { calls: 0, ok: 0, failed: 0, rejectedService: 0, rejectedInstance: 0 };
  private readonly answered = new Map<string, number>();
  private inFlightNow = 0;
  private slots = 0;
  private credit = 0;
  private startedAt = 0;
  private endsAt = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly client: EchoClient,
    private options: LoadOptions,
  ) {}

  /** Starts calling (again), for `durationMs` or until stopped; `ratePerSec` replaces the options' rate. */
  start(durationMs = Number.POSITIVE_INFINITY, ratePerSec = this.options.ratePerSec): void {
    clearInterval(this.timer);
    this.options = { ...this.options, ratePerSec };
    this.startedAt = performance.now();
    this.endsAt = this.startedAt + durationMs;
    this.slots = 0;
    this.credit = 0;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops making calls and waits for those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.inFlightNow > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
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

  // Calls due while the bound is reached are skipped, not queued, so the load never builds a backlog.
  private tick(): void {
    const now = performance.now();
    if (now >= this.endsAt) {
      void this.stop();
      return;
    }
    const { ratePerSec, catchUp } = this.options;
    if (catchUp === true) {
      const due = Math.floor(((now - this.startedAt) * ratePerSec) / 1000);
      for (; this.slots < due; this.slots++) this.call();
    } else {
      this.credit += ratePerSec / (1000 / TICK_MS);
      for (; this.credit >= 1; this.credit--) this.call();
    }
  }

  private call(): void {
    const { maxInFlight, deadlineMs, textPrefix } = this.options;
    if (maxInFlight !== undefined && this.inFlightNow >= maxInFlight) return;
    const text = textPrefix === undefined ? 'hello' : `${textPrefix}${this.counts.calls}`;
    this.counts.calls++;
    this.inFlightNow++;
    const options = { deadline: Date.now() + deadlineMs };
    this.client.Say({ text }, new grpc.Metadata(), options, (err, reply) => {
      this.inFlightNow--;
      if (err === null) {
        this.counts.ok++;
        const who = reply?.instance ?? '?';
        this.answered.set(who, (this.answered.get(who) ?? 0) + 1);
      } else {
        const level = circuitBreakLevel(err);
        // A shed call was not sent either: the service level turned it away.
        if (level === 'service' || isLoadShedError(err)) this.counts.rejectedService++;
        else if (level === 'instance') this.counts.rejectedInstance++;
        else this.counts.failed++;
      }
      if (this.inFlightNow === 0 && this.timer === undefined) for (const done of this.idle.splice(0)) done();
    });
  }
}
