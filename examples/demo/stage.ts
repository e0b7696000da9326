import type { Instances } from '@cbsuite/testkit/instances.js';
import type { NodeSnapshot, StateChange } from '@cbsuite/testkit/node-stats.js';
import { describeBehaviour } from './format.js';
import { LiveView } from './live-view.js';
import { PlainLog } from './plain-log.js';
import type { Profile } from './profile.js';
import { writeReport } from './report.js';
import { runScenario, type ScenarioContext, script } from './scenario.js';
import { countersByNode, type WorldSnapshot } from './snapshot.js';
import { summarize, summaryLines } from './summary.js';
import { type TimelineMeta, TimelineRecorder } from './timeline.js';
import type { View } from './view.js';

const REDRAW_MS = 200;
const SAMPLE_MS = 1000;

/** What both modes of the demo are given. */
export interface StageOptions {
  readonly profile: Profile;
  /** Where to write the HTML report; undefined: no report. */
  readonly reportPath: string | undefined;
  readonly out: NodeJS.WriteStream;
  /** Ends the run early (the summary and report still come). */
  readonly signal: AbortSignal;
}

/** How the clients' load is started and stopped, and what a mode does beside the script while it plays. */
export interface Cast {
  startLoad(): void;
  stopLoad(): Promise<void>;
  /** Runs every `everyMs` while the script plays, and before each step (fleet mode narrates its nodes' events). */
  readonly tick?: { readonly everyMs: number; run(): void };
  /** Runs once the load has stopped, before the view's last frame. */
  afterLoad?(): void;
}

/**
 * What a run of either mode shows and records: the clock since its start,
 * the world's snapshot, the view (a live view on a terminal, plain lines
 * otherwise) and the timeline of the report.
 */
export class Stage {
  private readonly t0 = performance.now();
  /** Epoch ms of the start; other processes report epoch times on the same clock. */
  readonly t0Epoch = performance.timeOrigin + this.t0;
  readonly recorder: TimelineRecorder;
  readonly view: View;
  private phase = 'starting';
  private readonly fleet: boolean;

  constructor(
    private readonly o: StageOptions,
    meta: Omit<TimelineMeta, 'startedAt' | 'instances'>,
    private readonly instances: Instances,
    private readonly nodes: () => readonly NodeSnapshot[],
  ) {
    this.recorder = new TimelineRecorder({ ...meta, startedAt: Date.now(), instances: instances.addresses });
    this.fleet = meta.mode === 'fleet';
    const colour = o.out.isTTY === true && process.env.NO_COLOR === undefined;
    this.view = o.out.isTTY
      ? new LiveView(o.out, colour)
      : new PlainLog((line) => o.out.write(`${line}\n`), o.profile.summaryEveryMs);
  }

  /** Time since the run began, in ms. */
  readonly now = (): number => performance.now() - this.t0;

  /** Records a breaker's change of state (in fleet mode, with whether the fleet shares it); returns when it was. */
  recordState(c: StateChange): number {
    const atMs = c.at - this.t0Epoch;
    this.recorder.state({
      atMs,
      node: c.node,
      level: c.level,
      key: c.key,
      from: c.from,
      to: c.to,
      cause: c.cause,
      samples: c.own.samples,
      errorRate: c.own.errorRate,
      coolingMs: c.coolingMs,
      ...(this.fleet ? { fleet: c.fleet } : {}),
    });
    return atMs;
  }

  world(): WorldSnapshot {
    return {
      atMs: this.now(),
      durationMs: this.o.profile.durationMs,
      phase: this.phase,
      nodes: this.nodes(),
      processes: this.instances.addresses.map((address) => ({
        address,
        up: this.instances.isUp(address),
        behaviour: describeBehaviour(this.instances.currentBehaviour),
      })),
    };
  }

  /**
   * Plays the script against `ctx` with the load running: redraws the view
   * and samples the timeline as it goes, records and narrates each step, and
   * ends with the view's last frame, the summary and the report.
   */
  async play(ctx: ScenarioContext, cast: Cast): Promise<void> {
    const { profile: p, signal, out, reportPath } = this.o;
    cast.startLoad();
    const timers = [
      setInterval(() => this.view.update(this.world()), REDRAW_MS),
      setInterval(() => this.recorder.sample(this.world()), SAMPLE_MS),
    ];
    if (cast.tick !== undefined) timers.push(setInterval(cast.tick.run, cast.tick.everyMs));
    try {
      await runScenario(script(p), ctx, p.durationMs, {
        now: this.now,
        signal,
        onStep: (step, result, atMs) => {
          cast.tick?.run();
          this.phase = step.phase.label;
          this.recorder.beginPhase(step.phase.name, step.phase.label, atMs, countersByNode(this.world()));
          this.recorder.step({ atMs, kind: step.kind, text: result.text, target: result.target });
          this.view.narrate({ atMs, kind: 'step', text: result.text });
        },
      });
      if (signal.aborted) this.view.narrate({ atMs: this.now(), kind: 'note', text: 'interrupted: stopping early' });
    } finally {
      for (const t of timers) clearInterval(t);
      await cast.stopLoad();
      cast.afterLoad?.();
      this.view.stop(this.world());
    }
    const timeline = this.recorder.finish(this.world());
    const path = reportPath === undefined ? undefined : await writeReport(reportPath, timeline);
    out.write(`\n${summaryLines(summarize(timeline), path).join('\n')}\n`);
  }
}
