import type { Behaviour } from '@cbsuite/testkit/behaviour.js';
import type { ClientNodeOptions } from '@cbsuite/testkit/client-node.js';

/** Timings and settings of one run of the demo's script. */
export interface Profile {
  readonly name: 'default' | 'quick';
  /** Length of the run, from the first call of the steady load. */
  readonly durationMs: number;
  /** When each step of the script happens, since the run began. */
  readonly at: {
    readonly kill: number;
    readonly respawn: number;
    readonly degrade: number;
    readonly config: number;
    readonly recover: number;
  };
  /** How every instance answers when all is well, and while the service is degraded. */
  readonly normal: Behaviour;
  readonly degraded: Behaviour;
  /** The service key's `errRate` before and after the runtime change. */
  readonly errRate: { readonly before: number; readonly after: number };
  readonly breaker: {
    /** Time OPEN before the first probe; probes that fail double it up to `maxCoolingMs`. */
    readonly coolingMs: number;
    readonly maxCoolingMs: number;
    /** HALFOPEN lets one probe through per this many ms. */
    readonly detectMs: number;
    /** Bucket of the sliding window; the window holds 100 of them. */
    readonly bucketMs: number;
  };
  readonly load: {
    readonly ratePerSec: number;
    readonly maxInFlight: number;
    readonly deadlineMs: number;
  };
  /** Without a terminal: one summary line every this many ms. */
  readonly summaryEveryMs: number;
}

// Answering in 15 ms keeps a few calls in flight, for the killed instance to
// cut. The degraded service fails 35% of calls: under Kitex's default errRate
// of 50%, so the breaker holds until the runtime change lowers it to 25%. Its
// 80 ms answers fill the bound of 12 calls in flight: the rate drops to 150/s
// until the breaker rejects calls at once.
const normal: Behaviour = { failRate: 0, code: 'INTERNAL', delayMs: 15 };
const degraded: Behaviour = { failRate: 0.35, code: 'INTERNAL', delayMs: 80 };
const load = { ratePerSec: 200, maxInFlight: 12, deadlineMs: 2000 };

/** `pnpm demo`: about 50 s, cooling 2 s (up to 8 s with backoff), a 5 s window. */
export const DEFAULT_PROFILE: Profile = {
  name: 'default',
  durationMs: 50_000,
  at: { kill: 6000, respawn: 14_000, degrade: 20_000, config: 27_000, recover: 36_000 },
  normal,
  degraded,
  errRate: { before: 0.5, after: 0.25 },
  breaker: { coolingMs: 2000, maxCoolingMs: 8000, detectMs: 200, bucketMs: 50 },
  load,
  summaryEveryMs: 5000,
};

/** `--quick`: the same script in 14.5 s, cooling 1 s (up to 2 s), a 2 s window. */
export const QUICK_PROFILE: Profile = {
  ...DEFAULT_PROFILE,
  name: 'quick',
  durationMs: 14_500,
  at: { kill: 1500, respawn: 3000, degrade: 6000, config: 8500, recover: 10_500 },
  breaker: { coolingMs: 1000, maxCoolingMs: 2000, detectMs: 200, bucketMs: 20 },
  summaryEveryMs: 2000,
};

/** The profile of one of `n` client nodes sharing the load: the fleet sends about what one node sends alone. */
export function shareOf(p: Profile, n: number): Profile {
  const { ratePerSec, maxInFlight, deadlineMs } = p.load;
  return {
    ...p,
    load: { ratePerSec: ratePerSec / n, maxInFlight: Math.max(1, Math.round(maxInFlight / n)), deadlineMs },
  };
}

/** The service breaker's `minSample` of a client alone. */
export const SERVICE_MIN_SAMPLE = 20;

/**
 * A client node of the demo calling `addresses` (all but its name): small
 * timings, so that a short run shows every state. A fleet node's service
 * breaker gets a `minSample` sized for the fleet's calls (see fleet.ts).
 */
export function clientOf(
  p: Profile,
  addresses: readonly string[],
  serviceMinSample = SERVICE_MIN_SAMPLE,
): Omit<ClientNodeOptions, 'name'> {
  const b = p.breaker;
  const breaker = { bucketTimeMs: b.bucketMs, coolingTimeoutMs: b.coolingMs, detectTimeoutMs: b.detectMs };
  return {
    target: `ipv4:${addresses.join(',')}`,
    addresses,
    suite: {
      fromService: 'demo-client',
      service: { errRate: p.errRate.before, minSample: serviceMinSample },
      serviceBreaker: { ...breaker, maxCoolingMs: b.maxCoolingMs },
      // A dead instance fails every attempt and connection: three in a row is enough.
      instance: {
        errRate: 0.5,
        minSample: 10,
        consecutiveFailures: 3,
        failureCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED'],
        breaker,
      },
      // Lets a unary Say cut by a dropped connection be retried on another instance.
      idempotentSay: true,
    },
    // A late tick makes up for the calls it was late for.
    load: { ...p.load, catchUp: true },
    // A respawned instance is reconnected within a second.
    channel: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 },
  };
}
