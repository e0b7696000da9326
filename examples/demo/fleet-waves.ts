// What the fleet's live narration and its after-the-run facts both read off
// a key's changes, each with its own rule on top: which changes make a wave
// (one open or close that the nodes follow), and who probes.
import type { StateName } from '@cbsuite/testkit/node-stats.js';

/** One node's breaker for a key changed state. */
interface Change {
  readonly node: string;
  readonly from: StateName;
  readonly to: StateName;
  readonly cause: string;
  readonly atMs: number;
}

/** An open or close of a key, and the nodes in it so far. */
export interface WaveNodes {
  readonly to: 'OPEN' | 'CLOSED';
  readonly startMs: number;
  /** Nodes that changed by their own decision (a trip, a probe's result), and those the fleet told (cause `remote`). */
  readonly own: string[];
  readonly remote: string[];
}

/** The wave a change can be part of: CLOSED → OPEN opens, any change to CLOSED closes; others are in none. */
export function waveTo(c: Change): WaveNodes['to'] | undefined {
  return c.from === 'CLOSED' && c.to === 'OPEN' ? 'OPEN' : c.to === 'CLOSED' ? 'CLOSED' : undefined;
}

/** Whether `c` can join `w`: the same way, from a node not in it yet. */
export function canJoin(w: WaveNodes, c: Change): boolean {
  return waveTo(c) === w.to && !w.own.includes(c.node) && !w.remote.includes(c.node);
}

/** The nodes of a wave that `c` begins. */
export function firstNodes(c: Change): Pick<WaveNodes, 'own' | 'remote'> {
  return c.cause === 'remote' ? { own: [], remote: [c.node] } : { own: [c.node], remote: [] };
}

export function addNode(w: WaveNodes, c: Change): void {
  (c.cause === 'remote' ? w.remote : w.own).push(c.node);
}

/** A key's probe episodes: each stretch during which some node is HALFOPEN. */
export class Probing {
  /** When the episode began, the nodes that went HALFOPEN in it, and those that still are. */
  startMs = 0;
  probers: string[] = [];
  readonly halfOpen = new Set<string>();

  /** Follows a change; when it ends the episode (no node HALFOPEN any more), returns its probers. */
  follow(c: Change): string[] | undefined {
    let ended: string[] | undefined;
    if (c.from === 'HALFOPEN') {
      this.halfOpen.delete(c.node);
      if (this.halfOpen.size === 0) {
        ended = this.probers;
        this.probers = [];
      }
    }
    if (c.to === 'HALFOPEN') {
      if (this.probers.length === 0) this.startMs = c.atMs;
      if (!this.probers.includes(c.node)) this.probers.push(c.node);
      this.halfOpen.add(c.node);
    }
    return ended;
  }
}
