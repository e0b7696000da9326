import type { StateName } from '@cbsuite/testkit/node-stats.js';
import type { WorldSnapshot } from './snapshot.js';

/** A line of the story: a scripted step, a breaker's change of state, or a note. */
export interface Narration {
  readonly atMs: number;
  readonly kind: 'step' | 'state' | 'note';
  readonly text: string;
  /** For state changes: the new state, which colours the line. */
  readonly state?: StateName;
}

/** How the demo shows the run: redrawn in place on a terminal, plain log lines otherwise. */
export interface View {
  narrate(n: Narration): void;
  /** The world now; called about five times a second. */
  update(world: WorldSnapshot): void;
  /** The last update: leaves the terminal clean, the final state shown. */
  stop(world: WorldSnapshot): void;
}
