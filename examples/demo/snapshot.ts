// What the views, the timeline and the summary read: the whole demo at one
// moment. Each client node's part is testkit's NodeSnapshot: embedded mode
// has one node; fleet mode has four, one per process, sharing the instances.
import type { Counters, NodeSnapshot } from '@cbsuite/testkit/node-stats.js';

/** An instance's process, as the demo runs it. */
export interface ProcessView {
  readonly address: string;
  readonly up: boolean;
  /** `healthy`, `slow 60 ms, 35% INTERNAL`, ... */
  readonly behaviour: string;
}

/** Everything at one moment of the run. */
export interface WorldSnapshot {
  /** Time since the run began. */
  readonly atMs: number;
  readonly durationMs: number;
  /** The current phase's label. */
  readonly phase: string;
  readonly nodes: readonly NodeSnapshot[];
  readonly processes: readonly ProcessView[];
}

/** The counts of every node, by node name. */
export function countersByNode(world: WorldSnapshot): Map<string, Counters> {
  return new Map(world.nodes.map((n) => [n.node, n.counters]));
}
