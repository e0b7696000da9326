import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./echo-server-main.ts', import.meta.url));

export interface ServerProcess {
  readonly ports: number[];
  readonly addresses: string[];
  /** SIGKILL: the instances die with their calls in flight. */
  kill(): Promise<void>;
  /** SIGSTOP: the instances hang, connections open, answering nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

/**
 * Starts `count` echo servers in a child process (run through tsx), answering
 * after `delayMs`. With `cpu`, the process is pinned to that CPU (Linux taskset),
 * so that a benchmark's client and server do not share a core.
 */
export async function startServerProcess(count = 1, delayMs = 0, cpu?: number): Promise<ServerProcess> {
  const args = ['--import', 'tsx', MAIN, String(count), String(delayMs)];
  const pinned = cpu !== undefined && hasTaskset();
  const child: ChildProcess = pinned
    ? spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`echo server process exited with ${code} before listening`);
    }),
  ])) as [string];
  const { ports } = JSON.parse(line) as { ports: number[] };
  return {
    ports,
    addresses: ports.map((p) => `127.0.0.1:${p}`),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    pause: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
  };
}

let taskset: boolean | undefined;
/** Whether Linux's taskset can pin processes here. */
export function hasTaskset(): boolean {
  if (taskset === undefined) {
    taskset = process.platform === 'linux' && spawnSync('taskset', ['-p', String(process.pid)]).status === 0;
  }
  return taskset;
}

/** Pins this process to `cpu` when taskset is there; returns whether it did. */
export function pinToCpu(cpu: number): boolean {
  return hasTaskset() && spawnSync('taskset', ['-p', '-c', String(cpu), String(process.pid)]).status === 0;
}

export interface ChildServer {
  readonly port: number;
  readonly address: string;
  kill(): Promise<void>;
  /** SIGSTOP: the server hangs. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

/** One echo server in a child process, answering after 2 ms. */
export async function startChildServer(): Promise<ChildServer> {
  const p = await startServerProcess(1, 2);
  return {
    port: p.ports[0] as number,
    address: p.addresses[0] as string,
    kill: p.kill,
    pause: p.pause,
    resume: p.resume,
  };
}
