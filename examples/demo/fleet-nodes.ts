import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { FleetNodeConfig, FleetStateChange, FromFleetNode, ToFleetNode } from './fleet-ipc.js';
import { type NodeSnapshot, ZERO } from './snapshot.js';

const MAIN = fileURLToPath(new URL('./fleet-process.ts', import.meta.url));
// `--import tsx` resolves from the child's working directory.
const CWD = fileURLToPath(new URL('.', import.meta.url));
const START_TIMEOUT_MS = 45_000;
const CLOSE_TIMEOUT_MS = 5000;

/** What every client process of a fleet shares; each gets its own name. */
export type FleetOptions = Omit<FleetNodeConfig, 'name'>;

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  latest: NodeSnapshot;
}

type Done = Extract<FromFleetNode, { type: 'done' }>;

/**
 * The client nodes of the fleet demo, each in a process of its own
 * (fleet-process.ts) on one Redis: started and stopped together, their load
 * started and stopped over IPC, their snapshots and state changes heard as
 * they come.
 */
export class FleetNodes {
  private seq = 0;
  private readonly listeners = new Set<(c: FleetStateChange) => void>();

  private constructor(private readonly members: Member[]) {
    for (const m of members) {
      m.child.on('message', (msg: FromFleetNode) => {
        if (msg.type === 'snapshot') m.latest = msg.snapshot;
        else if (msg.type === 'state') for (const l of this.listeners) l(msg.change);
      });
    }
  }

  /** Starts a process per name and waits until each is connected and caught up with the fleet. */
  static async start(names: readonly string[], options: FleetOptions): Promise<FleetNodes> {
    const children = names.map((name) => spawnNode({ ...options, name }));
    const started = await Promise.allSettled(children.map((c, i) => ready(c, names[i] as string)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(children.map(killChild));
      throw failed.reason;
    }
    return new FleetNodes(names.map((name, i) => ({ name, child: children[i] as ChildProcess, latest: empty(name) })));
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  /** The latest snapshot of each node, in order. */
  snapshots(): NodeSnapshot[] {
    return this.members.map((m) => m.latest);
  }

  /** Hears every breaker state change of every node, in the order they arrive. */
  onStateChange(listener: (c: FleetStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  startLoad(): void {
    for (const m of this.members) tell(m.child, { type: 'start' });
  }

  /** Stops every node's load and waits for their calls in flight; the snapshots are then final. */
  async stopLoad(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const done = await this.request(m, (seq) => ({ type: 'stop', seq }));
        if (done?.snapshot) m.latest = done.snapshot;
      }),
    );
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
    const from = this.member(publisher);
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

  /** Closes every node (load, sync, suite, Redis client); a node that does not exit in time is killed. */
  async close(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const c = m.child;
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        const timer = setTimeout(() => c.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
        tell(c, { type: 'close', seq: ++this.seq });
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no client node ${name}`);
    return m;
  }

  // Resolves with the node's `done` for the request, or undefined if the node has gone.
  private request(m: Member, make: (seq: number) => ToFleetNode): Promise<Done | undefined> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const c = m.child;
      if (!c.connected) return resolve(undefined);
      const finish = (d: Done | undefined) => {
        c.off('message', onMessage);
        c.off('exit', onExit);
        resolve(d);
      };
      const onMessage = (msg: FromFleetNode) => {
        if (msg.type === 'done' && msg.seq === seq) finish(msg);
      };
      const onExit = () => finish(undefined);
      c.on('message', onMessage);
      c.on('exit', onExit);
      tell(c, make(seq));
    });
  }

  // The node watches the key's config: `watching` once it does, `applied` when the config came (epoch ms).
  private watch(m: Member, key: string, errRate: number): Watch {
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
      const onMessage = (msg: FromFleetNode) => {
        if (msg.type === 'done' && msg.seq === seq) acked();
        else if (msg.type === 'applied' && msg.seq === seq) finish(msg.at);
      };
      const onExit = () => finish(undefined);
      c.on('message', onMessage);
      c.on('exit', onExit);
    });
    tell(c, { type: 'watch', seq, key, errRate });
    return { watching, applied };
  }
}

interface Watch {
  readonly watching: Promise<void>;
  readonly applied: Promise<number | undefined>;
}

function spawnNode(config: FleetNodeConfig): ChildProcess {
  return fork(MAIN, [JSON.stringify(config)], {
    cwd: CWD,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

function ready(child: ChildProcess, name: string): Promise<void> {
  let onMessage: ((m: FromFleetNode) => void) | undefined;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} was not ready in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    onMessage = (m) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'failed') reject(new Error(`${name} failed to start: ${m.message}`));
    };
    onExit = (code, signal) => reject(new Error(`${name} exited (${signal ?? code}) before it was ready`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  }).finally(() => {
    clearTimeout(timer);
    if (onMessage) child.off('message', onMessage);
    if (onExit) child.off('exit', onExit);
  });
}

function tell(child: ChildProcess, m: ToFleetNode): void {
  if (child.connected) child.send(m);
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function empty(node: string): NodeSnapshot {
  return { node, counters: ZERO, inFlight: 0, services: [], instances: [] };
}
