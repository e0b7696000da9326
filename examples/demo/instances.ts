import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Behaviour } from './behaviour.js';
import type { FromInstance, ToInstance } from './instance-ipc.js';

const MAIN = fileURLToPath(new URL('./instance-process.ts', import.meta.url));
// `--import tsx` resolves from the child's working directory.
const CWD = fileURLToPath(new URL('.', import.meta.url));
const START_TIMEOUT_MS = 20_000;
let lastSeq = 0;

interface Instance {
  readonly port: number;
  readonly address: string;
  child: ChildProcess | undefined;
}

/**
 * The Echo instances of the demo, each in a child process of its own on a
 * loopback port: they can be killed with SIGKILL and respawned on the same
 * port, and told over IPC how to behave.
 */
export class Instances {
  private constructor(
    private readonly list: Instance[],
    private behaviour: Behaviour,
  ) {}

  /** Starts `n` instances on free ports, behaving so. */
  static async start(n: number, behaviour: Behaviour): Promise<Instances> {
    const started = await Promise.allSettled(Array.from({ length: n }, () => spawnInstance(0)));
    const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((s) => killChild(s.child)));
      throw failed.reason;
    }
    const instances = new Instances(
      ok.map((s) => ({ port: s.port, address: `127.0.0.1:${s.port}`, child: s.child })),
      behaviour,
    );
    await instances.setBehaviour(behaviour);
    return instances;
  }

  /** `127.0.0.1:<port>` of each instance, in start order. */
  get addresses(): string[] {
    return this.list.map((i) => i.address);
  }

  /** Whether the instance's process is running. */
  isUp(address: string): boolean {
    return this.get(address).child !== undefined;
  }

  /** The behaviour every instance has been told to follow. */
  get currentBehaviour(): Behaviour {
    return this.behaviour;
  }

  /** Kills the instance's process with SIGKILL (its calls in flight are cut) and waits for it to exit. */
  async kill(address: string): Promise<void> {
    const i = this.get(address);
    const child = i.child;
    i.child = undefined;
    await killChild(child);
  }

  /** Starts the instance again on its port, with the current behaviour. */
  async respawn(address: string): Promise<void> {
    const i = this.get(address);
    if (i.child !== undefined) return;
    const { child } = await spawnInstance(i.port);
    i.child = child;
    await tell(child, this.behaviour);
  }

  /** Tells every running instance (and those respawned later) to behave so; resolves once they do. */
  async setBehaviour(b: Behaviour): Promise<void> {
    this.behaviour = b;
    await Promise.all(this.list.flatMap((i) => (i.child ? [tell(i.child, b)] : [])));
  }

  /** Kills every instance. */
  async stop(): Promise<void> {
    await Promise.all(this.list.map((i) => this.kill(i.address)));
  }

  private get(address: string): Instance {
    const i = this.list.find((x) => x.address === address);
    if (i === undefined) throw new Error(`no instance ${address}`);
    return i;
  }
}

async function spawnInstance(port: number): Promise<{ port: number; child: ChildProcess }> {
  const child = fork(MAIN, [String(port)], {
    cwd: CWD,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let onMessage: ((m: FromInstance) => void) | undefined;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<number>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`instance on port ${port} did not listen in ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    onMessage = (m) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'failed') reject(new Error(`instance on port ${port} failed to start: ${m.message}`));
    };
    onExit = (code, signal) =>
      reject(new Error(`instance on port ${port} exited (${signal ?? code}) before listening`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
  try {
    return { port: await ready, child };
  } catch (err) {
    await killChild(child);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onMessage) child.off('message', onMessage);
    if (onExit) child.off('exit', onExit);
  }
}

// Resolves once the instance says it behaves so (or has gone): a call made
// after that gets the new behaviour.
function tell(child: ChildProcess, behaviour: Behaviour): Promise<void> {
  return new Promise((resolve) => {
    if (!child.connected) return resolve();
    const seq = ++lastSeq;
    const done = () => {
      child.off('message', acked);
      child.off('exit', done);
      resolve();
    };
    const acked = (m: FromInstance) => {
      if (m.type === 'behaving' && m.seq === seq) done();
    };
    child.on('message', acked);
    child.on('exit', done);
    const m: ToInstance = { type: 'behave', behaviour, seq };
    child.send(m);
  });
}

async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
