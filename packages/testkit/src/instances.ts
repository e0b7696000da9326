import type { Behaviour } from './behaviour.js';
import { type ServerProcess, startServerProcess } from './child-server.js';

interface Instance {
  readonly port: number;
  readonly address: string;
  process: ServerProcess | undefined;
}

/**
 * Echo instances, each in a child process of its own on a loopback port:
 * they can be killed with SIGKILL and respawned on the same port, and told
 * over IPC how to behave.
 */
export class Instances {
  private constructor(
    private readonly list: Instance[],
    private behaviour: Behaviour,
  ) {}

  /** Starts `n` instances on free ports, behaving so. */
  static async start(n: number, behaviour: Behaviour): Promise<Instances> {
    const started = await Promise.allSettled(Array.from({ length: n }, () => startServerProcess()));
    const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((p) => p.kill()));
      throw failed.reason;
    }
    const list = ok.map((p) => ({ port: p.ports[0] as number, address: p.addresses[0] as string, process: p }));
    const instances = new Instances(list, behaviour);
    await instances.setBehaviour(behaviour);
    return instances;
  }

  /** `127.0.0.1:<port>` of each instance, in start order. */
  get addresses(): string[] {
    return this.list.map((i) => i.address);
  }

  /** Whether the instance's process is running. */
  isUp(address: string): boolean {
    return this.get(address).process !== undefined;
  }

  /** The behaviour every instance has been told to follow. */
  get currentBehaviour(): Behaviour {
    return this.behaviour;
  }

  /** Kills the instance's process with SIGKILL (its calls in flight are cut) and waits for it to exit. */
  async kill(address: string): Promise<void> {
    const i = this.get(address);
    const p = i.process;
    i.process = undefined;
    await p?.kill();
  }

  /** Starts the instance again on its port, with the current behaviour. */
  async respawn(address: string): Promise<void> {
    const i = this.get(address);
    if (i.process !== undefined) return;
    const p = await startServerProcess(1, 0, undefined, i.port);
    i.process = p;
    await p.behave(this.behaviour);
  }

  /** Tells every running instance (and those respawned later) to behave so; resolves once they do. */
  async setBehaviour(b: Behaviour): Promise<void> {
    this.behaviour = b;
    await Promise.all(this.list.flatMap((i) => (i.process ? [i.process.behave(b)] : [])));
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
