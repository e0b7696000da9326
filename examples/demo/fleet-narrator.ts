import type { Level, StateChange, StateName } from '@cbsuite/testkit/node-stats.js';
import { addNode, canJoin, firstNodes, Probing, type WaveNodes, waveTo } from './fleet-waves.js';
import { int, list, ms, pct, secs } from './format.js';
import { describeTransition, transitionOf, WHILE_OPEN } from './narrator.js';
import type { Narration } from './view.js';

/** A state change of a fleet node, its time since the run began. */
export type FleetChange = Omit<StateChange, 'at'> & { readonly atMs: number };

/** Changes are told this long after they happen, in the order they happened (they come from several processes). */
export const REORDER_MS = 100;
/** A wave (nodes following one open or close) still short of some node this long after it began is told as it is. */
export const WAVE_MS = 500;

/** What a node that follows the fleet's open or close (cause remote) does then, by level. */
const FOLLOWED: Partial<Record<StateName, Readonly<Record<Level, string>>>> = {
  OPEN: { service: 'it rejects calls too', instance: 'its picks skip the instance too' },
  CLOSED: { service: 'calls reach the service again', instance: 'the instance is back in its rotation' },
};

interface Wave extends WaveNodes {
  readonly first: string;
  lastMs: number;
}

interface Track {
  readonly level: FleetChange['level'];
  readonly key: string;
  readonly states: Map<string, StateName>;
  /** Nodes whose OPEN (or HALFOPEN) is their own, not the fleet's. */
  readonly alone: Set<string>;
  wave: Wave | undefined;
  readonly probing: Probing;
  /** The probers of the last half-open episode. */
  lastProbers: string[];
}

/**
 * The story of a fleet's breakers: each node's changes, and what they mean
 * together. A trip on one node opens the key on every node within
 * milliseconds (cause `remote`); after cooling, one node alone (the holder
 * of the fleet's probe lease) goes HALFOPEN, and its probes' result closes
 * or reopens every node. Changes are held for {@link REORDER_MS} and told in
 * the order they happened.
 */
export class FleetNarrator {
  private readonly tracks = new Map<string, Track>();
  private pending: FleetChange[] = [];

  constructor(
    private readonly nodes: readonly string[],
    private readonly detectMs: number,
  ) {}

  /** A change as it arrives. */
  push(c: FleetChange): void {
    this.pending.push(c);
  }

  /** What to tell at `nowMs`: the changes older than {@link REORDER_MS}, in order, and waves done or given up. */
  drain(nowMs: number): Narration[] {
    const due = this.pending.filter((c) => c.atMs <= nowMs - REORDER_MS).sort((a, b) => a.atMs - b.atMs);
    this.pending = this.pending.filter((c) => c.atMs > nowMs - REORDER_MS);
    const out: Narration[] = [];
    for (const c of due) {
      // Waves that ran out of time before this change are told first.
      for (const t of this.tracks.values()) out.push(...this.expire(t, c.atMs));
      out.push(...this.change(c));
    }
    for (const t of this.tracks.values()) out.push(...this.expire(t, nowMs - REORDER_MS));
    return out;
  }

  /** Everything still held, and every wave as it stands (at the end of the run). */
  flush(): Narration[] {
    const out = this.drain(Number.POSITIVE_INFINITY);
    for (const t of this.tracks.values()) if (t.wave) out.push(this.endWave(t, t.wave));
    return out;
  }

  private track(c: FleetChange): Track {
    const id = `${c.level}\n${c.key}`;
    let t = this.tracks.get(id);
    if (t === undefined) {
      t = {
        level: c.level,
        key: c.key,
        states: new Map(this.nodes.map((n) => [n, 'CLOSED'])),
        alone: new Set(),
        wave: undefined,
        probing: new Probing(),
        lastProbers: [],
      };
      this.tracks.set(id, t);
    }
    return t;
  }

  private change(c: FleetChange): Narration[] {
    const t = this.track(c);
    const out: Narration[] = [];
    t.states.set(c.node, c.to);
    if (c.to !== 'CLOSED' && !c.fleet) t.alone.add(c.node);
    else t.alone.delete(c.node);
    const w = t.wave;
    // A node that trips alone while the fleet opens is not part of the fleet's wave, nor does it end it: like a
    // node open alone before, the fleet's open takes it over at its next flush.
    const aloneOpen = c.from === 'CLOSED' && c.to === 'OPEN' && !c.fleet && c.cause !== 'remote';
    const joins = w !== undefined && !aloneOpen && canJoin(w, c);
    if (w !== undefined && !joins && !(aloneOpen && w.to === 'OPEN')) out.push(this.endWave(t, w));
    const probed = t.probing.follow(c);
    if (probed !== undefined) t.lastProbers = probed;

    const wave = joins ? w : undefined;
    out.push({ atMs: c.atMs, kind: 'state', state: c.to, text: this.line(t, c, wave) });
    const to = waveTo(c);
    if (wave !== undefined) {
      addNode(wave, c);
      wave.lastMs = c.atMs;
    } else if (c.fleet && to !== undefined) {
      // A fleet-wide open (or close) while no other node is open (or closed) starts a wave the others follow.
      // A node open alone does not stop a fleet open: the fleet's open takes it over.
      const others = this.nodes.filter((n) => n !== c.node);
      const starts =
        to === 'OPEN'
          ? others.every((n) => t.states.get(n) === 'CLOSED' || t.alone.has(n))
          : others.every((n) => t.states.get(n) !== 'CLOSED');
      t.wave = starts ? { to, first: c.node, startMs: c.atMs, lastMs: c.atMs, ...firstNodes(c) } : undefined;
    }
    if (t.wave !== undefined && this.nodes.every((n) => t.states.get(n) === t.wave?.to)) {
      out.push(this.endWave(t, t.wave));
    }
    return out;
  }

  private expire(t: Track, atMs: number): Narration[] {
    const w = t.wave;
    return w !== undefined && atMs - w.startMs > WAVE_MS ? [this.endWave(t, w)] : [];
  }

  // What a wave amounts to: every node in the same state within some milliseconds, or only some of them.
  private endWave(t: Track, w: Wave): Narration {
    t.wave = undefined;
    const n = w.own.length + w.remote.length;
    const all = this.nodes.length;
    const opened = w.to === 'OPEN';
    const spread = ms(w.lastMs - w.startMs);
    const who = `${t.level} breaker for ${t.key}`;
    const rest = this.nodes.filter((x) => !w.own.includes(x) && !w.remote.includes(x));
    // Nodes open alone before the fleet opened: its open took them over, without a change of state.
    const already = opened ? rest.filter((x) => t.states.get(x) === 'OPEN') : [];
    const followed = w.remote.length > 0 ? `; ${list(w.remote)} followed from Redis` : '';
    const why = this.decided(t, w, already) + followed;
    const missing = rest.filter((x) => !already.includes(x));
    let text = `${who}: the fleet ${opened ? 'opened' : 'closed'} together, ${n} of ${all} nodes ${w.to} within ${spread} (${why})`;
    if (missing.length > 0) {
      text = `${who}: ${n} of ${all} nodes ${w.to} within ${spread} of ${w.first} (${why}); ${list(missing)} did not follow`;
    }
    if (already.length > 0 && w.own.length > 0)
      text += `; ${list(already)} had opened alone before, and now ${already.length === 1 ? 'is' : 'are'} the fleet's too`;
    return { atMs: w.lastMs, kind: 'state', state: w.to, text };
  }

  // Who decided a wave: the node (or nodes) that tripped or probed, else Redis.
  private decided(t: Track, w: Wave, already: readonly string[]): string {
    if (w.to === 'CLOSED') {
      const prober = t.lastProbers.length === 1 ? t.lastProbers[0] : undefined;
      if (prober !== undefined && w.own.includes(prober)) return `only ${prober} probed`;
      return w.own.length > 0 ? `${list(w.own)} closed on its probes` : 'the close came from Redis';
    }
    if (w.own.length === 1) return `${w.own[0]} tripped`;
    if (w.own.length > 1) {
      return `${list(w.own)} tripped on their own counts at nearly the same moment, before Redis told them`;
    }
    if (already.length === 0) return 'the open came from Redis';
    const [it, its] = already.length === 1 ? ['it', 'its'] : ['them', 'their'];
    return `${list(already)} had opened alone a moment before; once the other nodes' reports reached ${it}, ${its} open became the fleet's`;
  }

  private line(t: Track, c: FleetChange, wave: Wave | undefined): string {
    const service = c.level === 'service';
    const breaker = `${c.level} breaker ${c.to} for ${c.key}`;
    const name = `${breaker} on ${c.node}`;
    const after = wave === undefined ? '' : `, ${ms(c.atMs - wave.startMs)} after ${wave.first}`;
    if (c.cause === 'remote') {
      const what = FOLLOWED[c.to]?.[c.level] ?? `it is ${c.to} too`;
      return `${name}${after}: applied from the fleet (cause remote); ${what}`;
    }
    // What the embedded demo would say, naming the node.
    const plain = describeTransition(transitionOf(c), { errRate: c.errRate, detectMs: this.detectMs }).replace(
      breaker,
      name,
    );
    if (!c.fleet) {
      return c.from === 'CLOSED' && c.to === 'OPEN'
        ? `${plain}; it opens on ${c.node} alone, not for the fleet, and probes alone`
        : plain;
    }
    if (c.from === 'CLOSED' && c.to === 'OPEN') {
      const f = c.fleetWindow;
      const failed = !service
        ? c.conseErrors >= 3
          ? `${c.conseErrors} attempts or connections in a row failed`
          : `${pct(c.own.errorRate, 0)} of its last ${int(c.own.samples)} attempts failed`
        : f !== undefined
          ? `${pct(f.errorRate, 0)} of the fleet's last ${int(f.samples)} calls failed`
          : `${pct(c.own.errorRate, 0)} of its last ${int(c.own.samples)} calls failed`;
      if (wave !== undefined) {
        return `${name} too${after}: it tripped on its own counts (${failed}) before the fleet's open reached it`;
      }
      const why = service
        ? `${failed} (trips at ${pct(c.errRate, 0)})${f === undefined ? '' : `, with errors on ${f.failingNodes} nodes`}`
        : failed;
      return (
        `${name}: ${why}: it opens for the whole fleet, and Redis tells the other nodes; ${WHILE_OPEN[c.level]}; ` +
        `next probe in ${secs(c.coolingMs)}`
      );
    }
    if (c.to === 'HALFOPEN') {
      const also = t.probing.probers.filter((n) => n !== c.node && t.probing.halfOpen.has(n));
      if (also.length > 0) return `${name} too, while ${list(also)} probes`;
      const probe = service
        ? `one probe call every ${this.detectMs} ms`
        : 'its next pick of the instance is a probe call';
      const wait = service ? 'stay OPEN and keep rejecting' : 'keep skipping it';
      const others = this.nodes.filter((n) => n !== c.node);
      return (
        `${name}: cooling is over and ${c.node} holds the fleet's probe lease, so it alone probes (${probe}); ` +
        `${list(others)} ${wait} until the probe's result comes`
      );
    }
    if (c.from === 'HALFOPEN' && c.to === 'OPEN') {
      return (
        `${name} again: the probe failed; the whole fleet stays OPEN and cools again; ` +
        `next probe in ${secs(c.coolingMs)}${service ? ' (backoff)' : ''}`
      );
    }
    if (c.from === 'HALFOPEN' && c.to === 'CLOSED') {
      const then = service
        ? 'calls reach the service again (the window starts afresh)'
        : 'the instance is back in rotation';
      return `${name}: probes succeeded; Redis tells the other nodes to close; ${then}`;
    }
    return plain;
  }
}
