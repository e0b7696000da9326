import { ClientNode } from '@cbsuite/testkit/client-node.js';
import { Instances } from '@cbsuite/testkit/instances.js';
import { pct, secs } from './format.js';
import { describeTransition, transitionOf } from './narrator.js';
import { clientOf } from './profile.js';
import type { ScenarioContext } from './scenario.js';
import { Stage, type StageOptions } from './stage.js';

const INSTANCES = 3;

/**
 * The embedded demo: three Echo instances in child processes, one client
 * node calling them through CBSuite, the script played against them, a view
 * of it all, then the summary and the report.
 */
export async function runEmbedded(o: StageOptions): Promise<void> {
  const p = o.profile;
  const write = (line: string) => o.out.write(`${line}\n`);
  write(
    `cbsuite demo (${p.name}, ${secs(p.durationMs)}): starting ${INSTANCES} Echo instances, each in its own process`,
  );
  const instances = await Instances.start(INSTANCES, p.normal);
  try {
    write(`  instances ${instances.addresses.join(', ')}; connecting the client through CBSuite`);
    const node = await ClientNode.create({ name: 'client-1', ...clientOf(p, instances.addresses) });
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

async function play(o: StageOptions, instances: Instances, node: ClientNode): Promise<void> {
  const p = o.profile;
  const stage = new Stage(
    o,
    { title: 'cbsuite demo: circuit breakers for a gRPC client', mode: 'embedded', nodes: [node.name] },
    instances,
    () => [node.snapshot()],
  );
  const { recorder, view, now } = stage;

  node.onStateChange((c) => {
    const atMs = stage.recordState(c);
    const text = describeTransition(transitionOf(c), { errRate: c.errRate, detectMs: p.breaker.detectMs });
    view.narrate({ atMs, kind: 'state', text, state: c.to });
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
