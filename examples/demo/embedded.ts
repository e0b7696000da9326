import { describeBehaviour } from './behaviour.js';
import { ClientNode } from './client-node.js';
import { pct, secs } from './format.js';
import { Instances } from './instances.js';
import { LiveView } from './live-view.js';
import { describeTransition } from './narrator.js';
import { PlainLog } from './plain-log.js';
import type { Profile } from './profile.js';
import { writeReport } from './report.js';
import { runScenario, type ScenarioContext, script } from './scenario.js';
import { countersByNode, type StateName, type WorldSnapshot } from './snapshot.js';
import { summarize, summaryLines } from './summary.js';
import { TimelineRecorder } from './timeline.js';
import type { View } from './view.js';

const INSTANCES = 3;
const REDRAW_MS = 200;
const SAMPLE_MS = 1000;

/** Options of an embedded run. */
export interface EmbeddedOptions {
  readonly profile: Profile;
  /** Where to write the HTML report; undefined: no report. */
  readonly reportPath: string | undefined;
  readonly out: NodeJS.WriteStream;
  /** Ends the run early (the summary and report still come). */
  readonly signal: AbortSignal;
}

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
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const recorder = new TimelineRecorder({
    title: 'cbsuite demo: circuit breakers for a gRPC client',
    mode: 'embedded',
    startedAt: Date.now(),
    nodes: [node.name],
    instances: instances.addresses,
  });
  let phase = 'starting';
  const world = (): WorldSnapshot => ({
    atMs: now(),
    durationMs: p.durationMs,
    phase,
    nodes: [node.snapshot()],
    processes: instances.addresses.map((address) => ({
      address,
      up: instances.isUp(address),
      behaviour: describeBehaviour(instances.currentBehaviour),
    })),
  });
  const colour = o.out.isTTY === true && process.env.NO_COLOR === undefined;
  const view: View = o.out.isTTY
    ? new LiveView(o.out, colour)
    : new PlainLog((line) => o.out.write(`${line}\n`), p.summaryEveryMs);

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
  node.load.start();
  const redraw = setInterval(() => view.update(world()), REDRAW_MS);
  const sample = setInterval(() => recorder.sample(world()), SAMPLE_MS);
  try {
    await runScenario(script(p), ctx, p.durationMs, {
      now,
      signal: o.signal,
      onStep: (step, result, atMs) => {
        phase = step.phase.label;
        recorder.beginPhase(step.phase.name, step.phase.label, atMs, countersByNode(world()));
        recorder.step({ atMs, kind: step.kind, text: result.text, target: result.target });
        view.narrate({ atMs, kind: 'step', text: result.text });
      },
    });
    if (o.signal.aborted) view.narrate({ atMs: now(), kind: 'note', text: 'interrupted: stopping early' });
  } finally {
    clearInterval(redraw);
    clearInterval(sample);
    await node.load.stop();
    view.stop(world());
  }
  const timeline = recorder.finish(world());
  const reportPath = o.reportPath === undefined ? undefined : await writeReport(o.reportPath, timeline);
  o.out.write(`\n${summaryLines(summarize(timeline), reportPath).join('\n')}\n`);
}
