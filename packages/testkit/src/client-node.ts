import type { FleetSync } from '@cbsuite/core';
import { type Metricer, State, stateName } from '@cbsuite/core';
import type { CBSuite, CBSuiteStats } from '@cbsuite/grpc-interceptor';
import { EchoClient, grpc } from './echo.js';
import { Load, type LoadOptions } from './load.js';
import type {
  InstanceView,
  NodeSnapshot,
  ServiceView,
  ShedReasonName,
  StateChange,
  StateName,
  WindowCounts,
} from './node-stats.js';
import { type SuiteSettings, suiteOf } from './suite-settings.js';

/** The method the load calls. */
export const SAY = '/echo.v1.Echo/Say';
const WARM_UP_MS = 10_000;

/** What a client node is made of, as plain data (a fleet node gets it from its parent). */
export interface ClientNodeOptions {
  readonly name: string;
  /** What the Echo client dials: an address, or `ipv4:` and several. */
  readonly target: string;
  /** The instances behind the target: each answers once before the node is ready, and each shows in its snapshots. */
  readonly addresses?: readonly string[];
  readonly suite: SuiteSettings;
  readonly load: LoadOptions;
  /** More options of the client's channel (`grpc.initial_reconnect_backoff_ms`, ...). */
  readonly channel?: Readonly<Record<string, number | string>>;
}

/**
 * A client calling the Echo service through a `CBSuite`, with its steady
 * load: its counts and breakers as snapshots, its breakers' state changes as
 * plain data. The demo runs one in its own process; a fleet runs one per
 * child process, their suites on a shared sync.
 */
export class ClientNode {
  /** The service key of the load's calls. */
  readonly serviceKey: string;
  readonly name: string;

  private constructor(
    private readonly o: ClientNodeOptions,
    readonly cbs: CBSuite,
    readonly client: EchoClient,
    readonly load: Load,
  ) {
    this.name = o.name;
    this.serviceKey = cbs.serviceKey(SAY);
  }

  /** Connects, and waits until each of `addresses` has answered once; the load is not started yet. */
  static async create(o: ClientNodeOptions, sync?: FleetSync): Promise<ClientNode> {
    const cbs = suiteOf(o.suite, sync);
    const client = new EchoClient(o.target, grpc.credentials.createInsecure(), {
      ...(o.suite.instance === undefined ? {} : cbs.channelOptions()),
      interceptors: [cbs.interceptor()],
      ...o.channel,
    });
    try {
      await warmUp(client, o.addresses ?? []);
    } catch (err) {
      client.close();
      cbs.close();
      throw err;
    }
    return new ClientNode(o, cbs, client, new Load(client, o.load));
  }

  /** Hears each state change of the suite's breakers, as plain data. */
  onStateChange(listener: (c: StateChange) => void): () => void {
    return this.cbs.onStateChange((e) => {
      const at = performance.timeOrigin + performance.now();
      const service = e.level === 'service';
      const view = (service ? this.cbs.servicePanel : this.cbs.instancePanel).breaker(e.key)?.fleetView();
      const c = e.counts;
      const failures = c.failures + c.timeouts;
      let fleetWindow: StateChange['fleetWindow'];
      if (view !== undefined) {
        const all = failures + view.failures + view.timeouts;
        const samples = c.samples + view.successes + view.failures + view.timeouts;
        const failingNodes = view.failingNodes + (failures > 0 ? 1 : 0);
        fleetWindow = { samples, failures: all, errorRate: samples === 0 ? 0 : all / samples, failingNodes };
      }
      listener({
        node: this.name,
        at,
        level: e.level,
        key: e.key,
        from: e.fromName as StateName,
        to: e.toName as StateName,
        cause: e.cause,
        fleet: e.fleet,
        coolingMs: e.coolingMs,
        own: { samples: c.samples, failures, errorRate: c.errorRate },
        conseErrors: c.conseErrors,
        ...(fleetWindow === undefined ? {} : { fleetWindow }),
        errRate: service ? this.cbs.serviceCBConfig(e.key).errRate : this.cbs.instanceCBConfig(e.key).errRate,
      });
    });
  }

  /** The node's counts and breakers now. */
  snapshot(): NodeSnapshot {
    const stats = this.cbs.stats();
    const load = this.load.counters();
    let skips = 0;
    for (const n of stats.instance.skips.values()) skips += n;
    const keys = new Set([this.serviceKey, ...this.cbs.servicePanel.dumpBreakers().keys()]);
    const sheds = Object.values(stats.service.shed).some((m) => m.size > 0);
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
        ...(sheds && { shed: shedOf(stats.service.shed, key) }),
      };
    });
    const answered = this.load.answeredBy();
    const addresses = new Set([...(this.o.addresses ?? []), ...this.cbs.instanceAddresses()]);
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

function shedOf(shed: CBSuiteStats['service']['shed'], key: string): Partial<Record<ShedReasonName, number>> {
  const out: Partial<Record<ShedReasonName, number>> = {};
  for (const reason of ['latency', 'adaptive', 'concurrency'] as const) {
    const n = shed[reason].get(key);
    if (n !== undefined) out[reason] = n;
  }
  return out;
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
