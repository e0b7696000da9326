// The parent side of a fleet of client processes (fleet-node.ts): started
// and stopped together, their load and config driven over IPC, their
// snapshots and state changes heard as they come.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { answer, killChild } from './child-answer.js';
import type { Command, NodeConfig, Report } from './fleet-node.js';
import { type NodeSnapshot, type NodeStats, type StateChange, ZERO } from './node-stats.js';

const NODE = fileURLToPath(new URL('./fleet-node.ts', import.meta.url));
// `--import tsx` resolves from the child's working directory.
const CWD = fileURLToPath(new URL('.', import.meta.url));
const START_TIMEOUT_MS = 45_000;
const CLOSE_TIMEOUT_MS = 5000;

/** A change of a node's service breaker, as the tests read it. */
export interface StateReport {
  readonly index: number;
  readonly to: string;
  readonly fleet: boolean;
  readonly cause: string;
  /** Epoch ms. */
  readonly time: number;
}

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  latest: NodeSnapshot;
}

type Done = Extract<Report, { type: 'done' }>;

/**
 * Starts a node process per name (or `node-0` ... for a count), all with
 * `config`, and waits until each is warmed up and caught up with the fleet.
 */
export async function startFleet(nodes: number | readonly string[], config: Omit<NodeConfig, 'index'>): Promise<Fleet> {
  const names = typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => `node-${i}`) : nodes;
  const children = names.map((name, index) =>
    fork(NODE, [JSON.stringify({ ...config, index, name })], {
      cwd: CWD,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  );
  const fleet = new Fleet(names.map((name, i) => ({ name, child: children[i] as ChildProcess, latest: empty(name) })));
  const started = await Promise.allSettled(children.map((c, i) => ready(c, names[i] as string)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(children.map(killChild));
    throw failed.reason;
  }
  return fleet;
}

export class Fleet {
  /** State changes of the nodes' service breakers, in arrival order. */
  readonly states: StateReport[] = [];
  private seq = 0;
  private readonly listeners = new Set<(c: StateChange) => void>();

  constructor(private readonly members: Member[]) {
    for (const [index, m] of members.entries()) {
      m.child.on('message', (r: Report) => {
        if (r.type === 'snapshot') m.latest = r.snapshot;
        if (r.type !== 'state') return;
        const c = r.change;
        if (c.level === 'service') {
          this.states.push({ index, to: c.to, fleet: c.fleet, cause: c.cause, time: Math.floor(c.at) });
        }
        for (const l of this.listeners) l(c);
      });
    }
  }

  get size(): number {
    return this.members.length;
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  /** Hears every breaker state change of every node (both levels), in the order they arrive. */
  onStateChange(listener: (c: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The latest snapshot of each node, in order. */
  snapshots(): NodeSnapshot[] {
    return this.members.map((m) => m.latest);
  }

  /** Starts every node's load: `perSecond` each (default: its config's rate), for `durationMs` (default: until stopped). */
  load(perSecond?: number, durationMs?: number): void {
    for (const m of this.members) tell(m.child, { type: 'load', perSecond, durationMs });
  }

  /** Stops every node's load and waits for their calls in flight; the snapshots are then final. */
  async stopLoad(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const done = await this.request(m, (seq) => ({ type: 'stop-load', seq }));
        if (done?.snapshot) m.latest = done.snapshot;
      }),
    );
  }

  async stats(): Promise<NodeStats[]> {
    const all = await Promise.all(this.members.map((m) => this.request(m, (seq) => ({ type: 'stats', seq }))));
    return all.map((d, i) => {
      if (d?.stats === undefined) throw new Error(`${this.members[i]?.name} is gone`);
      return d.stats;
    });
  }

  /** Resolves when `predicate` holds for the states reported so far (checked on each report), or rejects after `timeoutMs`. */
  until(predicate: (states: StateReport[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (predicate(this.states)) return resolve();
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`${what}: not within ${timeoutMs} ms; states: ${JSON.stringify(this.states)}`));
      }, timeoutMs);
      const stop = this.onStateChange(() => {
        if (!predicate(this.states)) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  /**
   * `publishServiceCBConfig(key, { errRate })` on the node `publisher`, the
   * others watching for it: resolves once it is in force on every node, with
   * when it was applied on each (epoch ms; undefined where it did not come
   * within seconds).
   */
  async publishServiceErrRate(
    publisher: string,
    key: string,
    errRate: number,
  ): Promise<Map<string, number | undefined>> {
    const from = this.members.find((m) => m.name === publisher);
    if (from === undefined) throw new Error(`no client node ${publisher}`);
    const others = this.members.filter((m) => m !== from);
    // Every other node watches before the config leaves.
    const watches = others.map((m) => this.watch(m, key, errRate));
    await Promise.all(watches.map((w) => w.watching));
    const done = await this.request(from, (seq) => ({ type: 'publish', seq, key, errRate }));
    if (done === undefined || done.error !== undefined) {
      throw new Error(`${publisher} could not publish the config: ${done?.error ?? 'its process is gone'}`);
    }
    const at = new Map<string, number | undefined>([[publisher, done.at]]);
    const times = await Promise.all(watches.map((w) => w.applied));
    for (const [i, m] of others.entries()) at.set(m.name, times[i]);
    return at;
  }

  /** Asks every node to close and exit; resolves with how many had to be killed after 5 s. */
  async close(): Promise<number> {
    let killed = 0;
    await Promise.all(
      this.members.map(async ({ child: c }) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        const timer = setTimeout(() => {
          killed++;
          c.kill('SIGKILL');
        }, CLOSE_TIMEOUT_MS);
        tell(c, { type: 'exit' });
        await exited;
        clearTimeout(timer);
      }),
    );
    return killed;
  }

  // Resolves with the node's `done` for the request, or undefined if the node has gone.
  private request(m: Member, make: (seq: number) => Command): Promise<Done | undefined> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const c = m.child;
      if (!c.connected) return resolve(undefined);
      const finish = (d: Done | undefined) => {
        c.off('message', onMessage);
        c.off('exit', onExit);
        resolve(d);
      };
      const onMessage = (r: Report) => {
        if (r.type === 'done' && r.seq === seq) finish(r);
      };
      const onExit = () => finish(undefined);
      c.on('message', onMessage);
      c.on('exit', onExit);
      tell(c, make(seq));
    });
  }

  // The node watches the key's config: `watching` once it does, `applied` when the config came (epoch ms).
  private watch(
    m: Member,
    key: string,
    errRate: number,
  ): { watching: Promise<void>; applied: Promise<number | undefined> } {
    const c = m.child;
    if (!c.connected) return { watching: Promise.resolve(), applied: Promise.resolve(undefined) };
    const seq = ++this.seq;
    let acked: () => void = () => undefined;
    const watching = new Promise<void>((resolve) => (acked = resolve));
    const applied = new Promise<number | undefined>((resolve) => {
      const finish = (at: number | undefined) => {
        c.off('message', onMessage);
        c.off('exit', onExit);
        acked();
        resolve(at);
      };
      const onMessage = (r: Report) => {
        if (r.type === 'done' && r.seq === seq) acked();
        else if (r.type === 'applied' && r.seq === seq) finish(r.at);
      };
      const onExit = () => finish(undefined);
      c.on('message', onMessage);
      c.on('exit', onExit);
    });
    tell(c, { type: 'watch', seq, key, errRate });
    return { watching, applied };
  }
}

/** The latest state each node reported (CLOSED when none). */
export function latest(states: readonly StateReport[], size: number): string[] {
  const out = Array.from({ length: size }, () => 'CLOSED');
  for (const s of states) out[s.index] = s.to;
  return out;
}

/** Resolves once the forked node says `ready`; rejects when it says `failed`, exits first, or takes 45 s. */
export async function ready(child: ChildProcess, name: string): Promise<void> {
  await answer<Report, 'ready'>(child, name, 'ready', START_TIMEOUT_MS);
}

function tell(child: ChildProcess, c: Command): void {
  if (child.connected) child.send(c);
}

function empty(node: string): NodeSnapshot {
  return { node, counters: ZERO, inFlight: 0, services: [], instances: [] };
}
