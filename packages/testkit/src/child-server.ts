// Echo servers in a child process (echo-server-main.ts, run through tsx):
// killed for real, started on a given port, told over IPC how to behave.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Behaviour } from './behaviour.js';

const MAIN = fileURLToPath(new URL('./echo-server-main.ts', import.meta.url));
// `--import tsx` resolves from the child's working directory.
const CWD = fileURLToPath(new URL('.', import.meta.url));
const START_TIMEOUT_MS = 20_000;

/** What a server process is told: behave so from now on; `seq` is echoed once it does. */
export type ToServer = { readonly type: 'behave'; readonly behaviour: Behaviour; readonly seq: number };
/** What it answers. */
export type FromServer = { readonly type: 'behaving'; readonly seq: number };

export interface ServerProcess {
  readonly ports: number[];
  readonly addresses: string[];
  /** Tells its servers to behave so; resolves once they do (a call made after that gets it), or the process has gone. */
  behave(b: Behaviour): Promise<void>;
  /** SIGKILL: the instances die with their calls in flight. */
  kill(): Promise<void>;
  /** SIGSTOP: the instances hang, connections open, answering nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

let lastSeq = 0;

/**
 * Starts `count` echo servers in a child process, answering after `delayMs`,
 * the first on `port` (0: a free one). With `cpu`, the process is pinned to
 * that CPU (Linux taskset), so that a benchmark's client and server do not
 * share a core.
 */
export async function startServerProcess(count = 1, delayMs = 0, cpu?: number, port = 0): Promise<ServerProcess> {
  const args = ['--import', 'tsx', MAIN, String(count), String(delayMs), String(port)];
  const options = {
    cwd: CWD,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'] as ('ignore' | 'pipe' | 'inherit' | 'ipc')[],
  };
  const child: ChildProcess =
    cpu !== undefined && hasTaskset()
      ? spawn('taskset', ['-c', String(cpu), process.execPath, ...args], options)
      : spawn(process.execPath, args, options);
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  const what = `echo server process (port ${port})`;
  let timer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = Promise.race<{ ports?: number[]; error?: string }>([
    once(lines, 'line').then(([line]) => JSON.parse(line as string) as { ports?: number[]; error?: string }),
    once(child, 'exit').then(([code, signal]) => ({ error: `exited (${signal ?? code}) before listening` })),
    new Promise<{ error: string }>((resolve) => {
      timer = setTimeout(() => resolve({ error: `did not listen in ${START_TIMEOUT_MS} ms` }), START_TIMEOUT_MS);
    }),
  ]);
  const { ports, error } = await first.finally(() => clearTimeout(timer));
  if (ports === undefined) {
    await kill();
    throw new Error(`${what} failed to start: ${error}`);
  }
  return {
    ports,
    addresses: ports.map((p) => `127.0.0.1:${p}`),
    behave: (behaviour) =>
      new Promise((resolve) => {
        if (!child.connected) return resolve();
        const seq = ++lastSeq;
        const done = () => {
          child.off('message', acked);
          child.off('exit', done);
          resolve();
        };
        const acked = (m: FromServer) => {
          if (m.type === 'behaving' && m.seq === seq) done();
        };
        child.on('message', acked);
        child.on('exit', done);
        child.send({ type: 'behave', behaviour, seq } satisfies ToServer);
      }),
    kill,
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
