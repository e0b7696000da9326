import type { Level, ShedReasonName, StateChange, StateName } from '@cbsuite/testkit/node-stats.js';
import { type Counters, ZERO } from '@cbsuite/testkit/node-stats.js';
import { delta } from './rates.js';
import { countersByNode, type WorldSnapshot } from './snapshot.js';

/** What a scripted step does. */
export type StepKind = 'start' | 'kill' | 'respawn' | 'degrade' | 'config' | 'recover';

/** A narrated step of the script: a marker on the report's chart. */
export interface StepMark {
  readonly atMs: number;
  readonly kind: StepKind;
  readonly text: string;
  /** The instance the step concerns, if one. */
  readonly target?: string;
}

/** A breaker of one node changed state (testkit's StateChange, as the report keeps it). */
export interface StateMark extends Pick<StateChange, 'node' | 'level' | 'key' | 'from' | 'to' | 'cause' | 'coolingMs'> {
  readonly atMs: number;
  /** The node's own window at the moment of the change. */
  readonly samples: number;
  readonly errorRate: number;
  /** In a fleet: whether the state is the fleet's (shared through Redis) rather than this node's alone. */
  readonly fleet?: boolean;
}

/** A service key's trip threshold (`errRate`) on one node, from this time on. */
export interface ThresholdMark {
  readonly atMs: number;
  readonly node: string;
  readonly key: string;
  readonly errRate: number;
}

/** A phase of the script, with what each node's calls did during it. */
export interface PhaseSpan {
  readonly name: string;
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Counts over the phase, by node. */
  readonly counts: Readonly<Record<string, Counters>>;
}

/** A breaker key at the end of a second. */
export interface KeySample {
  readonly state: StateName;
  /** The window's error rate, over its samples. */
  readonly errorRate: number;
  readonly samples: number;
}

/** A service key at the end of a second: its breaker, and the config it trips by. */
export interface ServiceSample extends KeySample {
  readonly threshold: number;
  readonly minSample: number;
  /** Calls shed under the key since the run began, by reason: only when the node sheds (`serviceShedding`). */
  readonly shed?: Readonly<Partial<Record<ShedReasonName, number>>>;
}

/** One node over (about) one second. */
export interface SecondSample {
  readonly node: string;
  /** End of the span, since the run began. */
  readonly atMs: number;
  /** Length of the span: 1000 ms, but for the last one. */
  readonly ms: number;
  /** Counts over the span. */
  readonly counts: Counters;
  readonly services: Readonly<Record<string, ServiceSample>>;
  readonly instances: Readonly<Record<string, KeySample & { readonly up: boolean }>>;
}

/**
 * A whole run, as the report draws it. Every sample and state change names
 * its client node, so that a fleet run (several nodes) fits the same model.
 */
export interface Timeline {
  readonly version: 1;
  readonly title: string;
  readonly mode: 'embedded' | 'fleet';
  /** Wall-clock start, epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly nodes: readonly string[];
  /** Service keys and instance addresses, in the order they were first seen. */
  readonly services: readonly string[];
  readonly instances: readonly string[];
  readonly phases: readonly PhaseSpan[];
  readonly steps: readonly StepMark[];
  readonly states: readonly StateMark[];
  readonly thresholds: readonly ThresholdMark[];
  readonly seconds: readonly SecondSample[];
  /** Counts of the whole run, by node. */
  readonly totals: Readonly<Record<string, Counters>>;
}

/** What a timeline knows before the run. */
export type TimelineMeta = Pick<Timeline, 'title' | 'mode' | 'startedAt' | 'nodes' | 'instances'>;

/** The phase under way, and every node's counts when it began. */
type OpenPhase = Pick<PhaseSpan, 'name' | 'label' | 'startMs'> & { readonly start: ReadonlyMap<string, Counters> };

/** Records a run: phases, steps and state changes as they happen, and a sample per node every second. */
export class TimelineRecorder {
  private readonly phases: PhaseSpan[] = [];
  private current: OpenPhase | undefined;
  private readonly steps: StepMark[] = [];
  private readonly states: StateMark[] = [];
  private readonly thresholds: ThresholdMark[] = [];
  private readonly seconds: SecondSample[] = [];
  private readonly last = new Map<string, { atMs: number; counters: Counters }>();
  private readonly services = new Set<string>();
  private readonly instances: Set<string>;

  constructor(private readonly meta: TimelineMeta) {
    this.instances = new Set(meta.instances);
  }

  /** Ends the current phase (if any) and begins `name` at `atMs`, given every node's counts then. */
  beginPhase(name: string, label: string, atMs: number, counters: ReadonlyMap<string, Counters>): void {
    this.endPhase(atMs, counters);
    this.current = { name, label, startMs: atMs, start: counters };
  }

  step(mark: StepMark): void {
    this.steps.push(mark);
  }

  state(mark: StateMark): void {
    (mark.level === 'service' ? this.services : this.instances).add(mark.key);
    this.states.push(mark);
  }

  /** Records the threshold of a key: at the start, and whenever it changes. */
  threshold(mark: ThresholdMark): void {
    this.services.add(mark.key);
    this.thresholds.push(mark);
  }

  /** Adds a sample per node: its counts since the previous sample, and its breakers now. */
  sample(world: WorldSnapshot): void {
    for (const n of world.nodes) {
      const prev = this.last.get(n.node) ?? { atMs: 0, counters: ZERO };
      if (world.atMs <= prev.atMs) continue;
      this.last.set(n.node, { atMs: world.atMs, counters: n.counters });
      const services: Record<string, ServiceSample> = {};
      for (const s of n.services) {
        this.services.add(s.key);
        const { errorRate, samples } = s.window;
        services[s.key] = {
          state: s.state,
          errorRate,
          samples,
          threshold: s.threshold,
          minSample: s.minSample,
          ...(s.shed && { shed: s.shed }),
        };
      }
      const up = new Map(world.processes.map((p) => [p.address, p.up]));
      const instances: Record<string, KeySample & { up: boolean }> = {};
      for (const i of n.instances) {
        this.instances.add(i.address);
        const { errorRate, samples } = i.window;
        instances[i.address] = { state: i.state, errorRate, samples, up: up.get(i.address) ?? true };
      }
      this.seconds.push({
        node: n.node,
        atMs: world.atMs,
        ms: world.atMs - prev.atMs,
        counts: delta(prev.counters, n.counters),
        services,
        instances,
      });
    }
  }

  /** Ends the run with a last sample and closes the current phase. */
  finish(world: WorldSnapshot): Timeline {
    this.sample(world);
    const counters = countersByNode(world);
    this.endPhase(world.atMs, counters);
    this.current = undefined;
    return {
      version: 1,
      title: this.meta.title,
      mode: this.meta.mode,
      startedAt: this.meta.startedAt,
      durationMs: world.atMs,
      nodes: [...this.meta.nodes],
      services: [...this.services],
      instances: [...this.instances],
      phases: [...this.phases],
      steps: [...this.steps],
      states: [...this.states],
      thresholds: [...this.thresholds],
      seconds: [...this.seconds],
      totals: Object.fromEntries(counters),
    };
  }

  private endPhase(atMs: number, counters: ReadonlyMap<string, Counters>): void {
    const p = this.current;
    if (p === undefined) return;
    const counts: Record<string, Counters> = {};
    for (const [node, c] of counters) counts[node] = delta(p.start.get(node) ?? ZERO, c);
    this.phases.push({ name: p.name, label: p.label, startMs: p.startMs, endMs: atMs, counts });
  }
}

/** A stretch of time. */
export interface Span {
  readonly startMs: number;
  readonly endMs: number;
}

/** A stretch of time in one state. */
export interface Segment extends Span {
  readonly state: StateName;
}

/** The states of one breaker of one node over the run: CLOSED until its first change. */
export function segments(t: Timeline, node: string, level: Level, key: string): Segment[] {
  const out: Segment[] = [];
  let startMs = 0;
  let state: StateName = 'CLOSED';
  for (const s of t.states) {
    if (s.node !== node || s.level !== level || s.key !== key) continue;
    if (s.atMs > startMs) out.push({ startMs, endMs: s.atMs, state });
    startMs = Math.max(startMs, s.atMs);
    state = s.to;
  }
  if (t.durationMs > startMs) out.push({ startMs, endMs: t.durationMs, state });
  return out;
}

/** When an instance's process was down: from each `kill` step to the `respawn` that follows (or the end). */
export function downSpans(t: Timeline, address: string): Span[] {
  const out: Span[] = [];
  let down: number | undefined;
  for (const s of t.steps) {
    if (s.target !== address) continue;
    if (s.kind === 'kill' && down === undefined) down = s.atMs;
    else if (s.kind === 'respawn' && down !== undefined) {
      out.push({ startMs: down, endMs: s.atMs });
      down = undefined;
    }
  }
  if (down !== undefined) out.push({ startMs: down, endMs: t.durationMs });
  return out;
}
