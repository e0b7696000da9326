import type { Level } from '@cbsuite/testkit/node-stats.js';
import { addNode, canJoin, firstNodes, Probing, type WaveNodes, waveTo } from './fleet-waves.js';
import { list, ms, plural } from './format.js';
import type { StateMark, Timeline } from './timeline.js';

/** Changes of one key to the same state on several nodes, this close together, are one wave. */
export const WAVE_GAP_MS = 1000;

/** One open (or close) of a key and the nodes that followed it. */
export interface Wave extends WaveNodes {
  readonly level: Level;
  readonly key: string;
  /** From the first node's change to the last one's. */
  readonly spreadMs: number;
}

/** A stretch of time during which some node was HALFOPEN for a key: its probe episode. */
export interface ProbeEpisode {
  readonly level: Level;
  readonly key: string;
  readonly startMs: number;
  readonly endMs: number;
  /** The nodes that went HALFOPEN: one when the fleet's probe lease works. */
  readonly probers: readonly string[];
  /** How it ended: the prober closed, or opened again; or the run ended first. */
  readonly outcome: 'closed' | 'reopened' | 'unfinished';
}

/** What the fleet's breakers did together. */
export interface FleetFacts {
  readonly nodes: readonly string[];
  readonly waves: readonly Wave[];
  readonly probes: readonly ProbeEpisode[];
}

/**
 * Reads the fleet's waves and probe episodes off a timeline: for each key,
 * opens (and closes) of several nodes within {@link WAVE_GAP_MS} of the
 * first make one wave; each stretch with a node HALFOPEN is a probe episode.
 */
export function fleetFacts(t: Timeline): FleetFacts {
  const byKey = new Map<string, StateMark[]>();
  for (const s of [...t.states].sort((a, b) => a.atMs - b.atMs)) {
    const id = `${s.level}\n${s.key}`;
    byKey.set(id, [...(byKey.get(id) ?? []), s]);
  }
  const waves: Wave[] = [];
  const probes: ProbeEpisode[] = [];
  for (const states of byKey.values()) {
    let wave: { -readonly [K in keyof Wave]: Wave[K] } | undefined;
    const probing = new Probing();
    for (const s of states) {
      const to = waveTo(s);
      if (wave !== undefined && canJoin(wave, s) && s.atMs - wave.startMs <= WAVE_GAP_MS) {
        addNode(wave, s);
        wave.spreadMs = s.atMs - wave.startMs;
      } else {
        if (wave !== undefined) waves.push(wave);
        wave =
          to === undefined
            ? undefined
            : { level: s.level, key: s.key, to, startMs: s.atMs, spreadMs: 0, ...firstNodes(s) };
      }
      const probers = probing.follow(s);
      if (probers !== undefined && probers.length > 0) {
        const outcome = s.to === 'CLOSED' ? 'closed' : 'reopened';
        probes.push({ level: s.level, key: s.key, startMs: probing.startMs, endMs: s.atMs, probers, outcome });
      }
    }
    if (wave !== undefined) waves.push(wave);
    const first = states[0];
    if (first !== undefined && probing.probers.length > 0) {
      const { startMs, probers } = probing;
      probes.push({ level: first.level, key: first.key, startMs, endMs: t.durationMs, probers, outcome: 'unfinished' });
    }
  }
  return { nodes: [...t.nodes], waves, probes };
}

/** The fleet's part of the summary: for each key, how its opens spread, how many nodes probed, how its closes spread. */
export function fleetSummaryLines(f: FleetFacts): string[] {
  const all = f.nodes.length;
  const lines = [`  the fleet: ${all} client nodes, their breakers shared through Redis`];
  const keys = new Map<string, { level: Level; key: string }>();
  for (const x of [...f.waves, ...f.probes].sort((a, b) =>
    a.level === b.level ? 0 : a.level === 'service' ? -1 : 1,
  )) {
    keys.set(`${x.level}\n${x.key}`, { level: x.level, key: x.key });
  }
  for (const { level, key } of keys.values()) {
    const who = level === 'service' ? 'service breaker' : `instance breaker for ${key}`;
    const mine = <T extends { level: Level; key: string }>(xs: readonly T[]) =>
      xs.filter((x) => x.level === level && x.key === key);
    const opens = mine(f.waves).filter((w) => w.to === 'OPEN');
    const closes = mine(f.waves).filter((w) => w.to === 'CLOSED');
    const probes = mine(f.probes);
    const spread = (w: Wave) => `on ${w.own.length + w.remote.length} of ${all} nodes within ${ms(w.spreadMs)}`;
    if (opens.length > 0) {
      const why = (w: Wave) => {
        const own = w.own.length === 1 ? `${w.own[0]} tripped` : `${w.own.length} tripped on their own`;
        return w.remote.length === 0 ? own : `${own}, ${w.remote.length} followed from Redis`;
      };
      lines.push(
        `    ${who} opened ${plural(opens.length, 'time')}: ${opens.map((w) => `${spread(w)} (${why(w)})`).join('; ')}`,
      );
    }
    if (probes.length > 0) {
      const each = probes.every((p) => p.probers.length === 1)
        ? `1 node probed each time (${probes.map((p) => p.probers[0]).join(', ')}), the holder of the fleet's probe lease`
        : `nodes probing each time: ${probes.map((p) => `${p.probers.length} (${list(p.probers)})`).join(', ')}`;
      lines.push(`    ${who} half-open ${plural(probes.length, 'time')}: ${each}`);
    }
    if (closes.length > 0) {
      lines.push(`    ${who} closed ${plural(closes.length, 'time')}: ${closes.map(spread).join('; ')}`);
    }
  }
  return lines;
}
