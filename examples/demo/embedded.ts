import { Instances } from '@cbsuite/testkit/instances.js';
import { ClientNode } from './client-node.js';
import { pct, secs } from './format.js';
import { describeTransition } from './narrator.js';
import type { ScenarioContext } from './scenario.js';
import type { StateName } from './snapshot.js';
import { Stage, type StageOptions } from './stage.js';

const INSTANCES = 3;

/** Options of an embedded run. */
export type EmbeddedOptions = StageOptions;

/**
 * The embedded demo: three Echo instances in child processes, one client
 * node calling them through CBSuite, the script played against them, a view
 * of it all, then the summary and the report.
 */
export async function runEmbedded(o: EmbeddedOptions): Promise<void> {
  const p = o.profile;
  const write = (line: string) => o.out.write(`${line}\n`);
  write(
    `cbsuite demo (${p.name}, ${secs(p.durationMs)}): starting ${INSTANCES} Echo instances, each in its own process`,
  );
  const instances = await Instances.start(INSTANCES, p.normal);
  try {
    write(`  instances ${instances.addresses.join(', ')}; connecting the client through CBSuite`);
    const node = await ClientNode.create('client-1', instances.addresses, p);
    try {
      const b = p.breaker;
      const service = node.cbs.serviceCBConfig(node.serviceKey);
      const instance = node.cbs.instanceCBConfig();
      write(
        `  service breaker: trips at ${pct(service.errRate, 0)} errors over ≥ ${service.minSample} calls; ` +
          `instance breakers: at ${pct(instance.errRate, 0)} over ≥ ${instance.minSample} attempts or 3 failures ` +
          `in a row; cooling ${secs(b.coolingMs)} (backoff to ${secs(b.maxCoolingMs)}), a probe every ` +
          `${b.detectMs} ms, window ${secs(b.bucketMs * 100)}`,
      );
      await play(o, instances, node);
    } finally {
      await node.close();
    }
  } finally {
    await instances.stop();
  }
}

async function play(o: EmbeddedOptions, instances: Instances, node: ClientNode): Promise<void> {
  const p = o.profile;
  const stage = new Stage(
    o,
    { title: 'cbsuite demo: circuit breakers for a gRPC client', mode: 'embedded', nodes: [node.name] },
    instances,
    () => [node.snapshot()],
  );
  const { recorder, view, now } = stage;

  node.onStateChange((e) => {
    const atMs = now();
    const to = e.toName as StateName;
    const from = e.fromName as StateName;
    const counts = e.counts;
    recorder.state({
      atMs,
      node: node.name,
      level: e.level,
      key: e.key,
      from,
      to,
      cause: e.cause,
      samples: counts.samples,
      errorRate: counts.errorRate,
      coolingMs: e.coolingMs,
    });
    const errRate =
      e.level === 'service' ? node.cbs.serviceCBConfig(e.key).errRate : node.cbs.instanceCBConfig(e.key).errRate;
    const text = describeTransition(
      { ...counts, level: e.level, key: e.key, from, to, cause: e.cause, coolingMs: e.coolingMs },
      { errRate, detectMs: p.breaker.detectMs },
    );
    view.narrate({ atMs, kind: 'state', text, state: to });
  });

  const ctx: ScenarioContext = {
    instances,
    serviceKey: node.serviceKey,
    serviceErrRate: () => node.cbs.serviceCBConfig(node.serviceKey).errRate,
    setServiceErrRate: (errRate) => {
      node.cbs.updateServiceCBConfig(node.serviceKey, { errRate });
      recorder.threshold({ atMs: now(), node: node.name, key: node.serviceKey, errRate });
    },
  };
  recorder.threshold({ atMs: 0, node: node.name, key: node.serviceKey, errRate: ctx.serviceErrRate() });
  await stage.play(ctx, { startLoad: () => node.load.start(), stopLoad: () => node.load.stop() });
}
