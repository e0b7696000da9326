import {
  anyTripFunc,
  consecutiveTripFunc,
  type FleetSync,
  type Metricer,
  rateTripFunc,
  State,
  stateName,
} from '@cbsuite/core';
import { type CBStateChangeEvent, CBSuite } from '@cbsuite/grpc-interceptor';
import { EchoClient } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';
import { Load } from './load.js';
import type { Profile } from './profile.js';
import type { InstanceView, NodeSnapshot, ServiceView, StateName, WindowCounts } from './snapshot.js';

/** The method the load calls. */
export const SAY = '/echo.v1.Echo/Say';
/** The service breaker's `minSample` of a client alone. */
export const SERVICE_MIN_SAMPLE = 20;
const WARM_UP_MS = 10_000;

/** How a client node of a fleet differs from one alone. */
export interface FleetSuiteOptions {
  /** Shares the suite's breakers with the other nodes. */
  readonly sync?: FleetSync;
  /** The service breaker's `minSample`; default {@link SERVICE_MIN_SAMPLE}. */
  readonly serviceMinSample?: number;
}

/**
 * The suite a client node of the demo calls through: small timings, so that
 * a short run shows every state. In fleet mode its breakers are shared with
 * the other nodes through `sync`.
 */
export function demoSuite(p: Profile, fleet: FleetSuiteOptions = {}): CBSuite {
  const b = p.breaker;
  const window = { bucketTimeMs: b.bucketMs, bucketNums: 100 };
  const sync = fleet.sync;
  return new CBSuite(undefined, {
    fromService: 'demo-client',
    defaultServiceCBConfig: { errRate: p.errRate.before, minSample: fleet.serviceMinSample ?? SERVICE_MIN_SAMPLE },
    instanceCBConfig: { errRate: 0.5, minSample: 10 },
    serviceBreaker: {
      ...window,
      coolingTimeoutMs: b.coolingMs,
      detectTimeoutMs: b.detectMs,
      coolingBackoff: { maxMs: b.maxCoolingMs },
    },
    instanceBreaker: { ...window, coolingTimeoutMs: b.coolingMs, detectTimeoutMs: b.detectMs },
    instanceFailureCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED'],
    // A dead instance fails every attempt and connection: three in a row is enough.
    instanceTripFunc: (cfg) => anyTripFunc(rateTripFunc(cfg.errRate, cfg.minSample), consecutiveTripFunc(3)),
    // Lets a unary Say cut by a dropped connection be retried on another instance.
    idempotent: (ri) => ri.method === 'Say',
    ...(sync === undefined ? {} : { sync }),
  });
}

/**
 * One client of the demo: a `CBSuite`, an Echo client over every instance
 * through it, and the steady load. Embedded mode runs one; fleet mode runs
 * one per process, its suite on a shared `sync`.
 */
export class ClientNode {
  /** The service key of the load's calls. */
  readonly serviceKey: string;

  private constructor(
    readonly name: string,
    readonly cbs: CBSuite,
    readonly client: EchoClient,
    readonly load: Load,
    private readonly addresses: readonly string[],
  ) {
    this.serviceKey = cbs.serviceKey(SAY);
  }

  /** Connects to every instance and waits until each has answered once; the load is not started yet. */
  static async create(
    name: string,
    addresses: readonly string[],
    p: Profile,
    fleet: FleetSuiteOptions = {},
  ): Promise<ClientNode> {
    const cbs = demoSuite(p, fleet);
    const client = new EchoClient(`ipv4:${addresses.join(',')}`, grpc.credentials.createInsecure(), {
      ...cbs.channelOptions(),
      interceptors: [cbs.interceptor()],
      // A respawned instance is reconnected within a second.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
    try {
      await warmUp(client, addresses);
    } catch (err) {
      client.close();
      cbs.close();
      throw err;
    }
    return new ClientNode(name, cbs, client, new Load(client, p.load), addresses);
  }

  /** Listens to the suite's state changes. */
  onStateChange(listener: (e: CBStateChangeEvent) => void): () => void {
    return this.cbs.onStateChange(listener);
  }

  /** The node's counts and breakers now. */
  snapshot(): NodeSnapshot {
    const stats = this.cbs.stats();
    const load = this.load.counters();
    let skips = 0;
    for (const n of stats.instance.skips.values()) skips += n;
    const keys = new Set([this.serviceKey, ...this.cbs.servicePanel.dumpBreakers().keys()]);
    const services: ServiceView[] = [...keys].map((key) => {
      const cfg = this.cbs.serviceCBConfig(key);
      const ours = key === this.serviceKey;
      return {
        key,
        state: stateOf(this.cbs.servicePanel.breaker(key)?.state()),
        window: windowOf(this.cbs.servicePanel.getMetricer(key)),
        threshold: cfg.errRate,
        minSample: cfg.minSample,
        calls: ours ? load.calls : 0,
        failed: ours ? load.failed : 0,
        rejected: stats.service.rejections.get(key) ?? 0,
        retried: ours ? stats.instance.retries : 0,
      };
    });
    const answered = this.load.answeredBy();
    const addresses = new Set([...this.addresses, ...this.cbs.instanceAddresses()]);
    const instances: InstanceView[] = [...addresses].map((address) => ({
      address,
      state: stateOf(this.cbs.instancePanel.breaker(address)?.state()),
      window: windowOf(this.cbs.instancePanel.getMetricer(address)),
      answered: answered.get(address) ?? 0,
      skips: stats.instance.skips.get(address) ?? 0,
    }));
    return {
      node: this.name,
      counters: { ...load, retries: stats.instance.retries, skips },
      inFlight: this.load.inFlight,
      services,
      instances,
    };
  }

  /** Stops the load (waiting for its calls in flight), then the client and the suite. */
  async close(): Promise<void> {
    await this.load.stop();
    this.client.close();
    this.cbs.close();
  }
}

function stateOf(s: State | undefined): StateName {
  const name = stateName(s ?? State.Closed);
  return name === 'INVALID' ? 'CLOSED' : name;
}

function windowOf(m: Metricer): WindowCounts {
  return { samples: m.samples(), failures: m.failures() + m.timeouts(), errorRate: m.errorRate() };
}

// round_robin starts with the instances that are READY first: call until every one has answered.
async function warmUp(client: EchoClient, addresses: readonly string[]): Promise<void> {
  const seen = new Set<string>();
  const until = Date.now() + WARM_UP_MS;
  while (seen.size < addresses.length && Date.now() < until) {
    const who = await new Promise<string | undefined>((resolve) =>
      client.Say({ text: 'warm-up' }, new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err, reply) =>
        resolve(err ? undefined : reply?.instance),
      ),
    );
    if (who === undefined) await new Promise((r) => setTimeout(r, 50));
    else seen.add(who);
  }
  if (seen.size < addresses.length) {
    throw new Error(`warm-up: only ${[...seen].join(', ') || 'no instance'} answered in ${WARM_UP_MS} ms`);
  }
}
