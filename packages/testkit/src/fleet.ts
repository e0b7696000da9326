// The parent side of a fleet of client processes (fleet-node.ts).
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Command, NodeConfig, NodeStats, Report } from './fleet-node.js';

const NODE = fileURLToPath(new URL('./fleet-node.ts', import.meta.url));

export interface StateReport {
  readonly index: number;
  readonly to: string;
  readonly fleet: boolean;
  readonly cause: string;
  readonly time: number;
}

export interface Fleet {
  readonly size: number;
  /** State changes of the nodes' service breakers, in arrival order. */
  readonly states: StateReport[];
  load(perSecond: number, durationMs: number): void;
  stopLoad(): void;
  stats(): Promise<NodeStats[]>;
  /** Resolves when `predicate` holds for the states reported so far (checked on each report), or rejects after `timeoutMs`. */
  until(predicate: (states: StateReport[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Asks every node to close and exit; resolves with how many had to be killed after 5 s. */
  close(): Promise<number>;
}

export async function startFleet(size: number, config: Omit<NodeConfig, 'index'>): Promise<Fleet> {
  const children: ChildProcess[] = [];
  const states: StateReport[] = [];
  const waiters = new Set<() => void>();
  for (let index = 0; index < size; index++) {
    const child = fork(NODE, [JSON.stringify({ ...config, index })], {
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    });
    child.on('message', (r: Report) => {
      if (r.type === 'state') {
        states.push({ index: r.index, to: r.to, fleet: r.fleet, cause: r.cause, time: r.time });
        for (const w of waiters) w();
      }
    });
    children.push(child);
  }
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.on('message', (r: Report) => r.type === 'ready' && resolve());
          c.once('exit', (code) => reject(new Error(`fleet node exited with ${code} before it was ready`)));
        }),
    ),
  );
  const sendAll = (c: Command) => {
    for (const child of children) child.send(c);
  };
  return {
    size,
    states,
    load: (perSecond, durationMs) => sendAll({ type: 'load', perSecond, durationMs }),
    stopLoad: () => sendAll({ type: 'stop-load' }),
    stats: () =>
      Promise.all(
        children.map(
          (c) =>
            new Promise<NodeStats>((resolve) => {
              const on = (r: Report) => {
                if (r.type === 'stats') {
                  c.off('message', on);
                  resolve(r.stats);
                }
              };
              c.on('message', on);
              c.send({ type: 'stats' } satisfies Command);
            }),
        ),
      ),
    until: (predicate, timeoutMs, what) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(states)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${what}: not within ${timeoutMs} ms; states: ${JSON.stringify(states)}`));
        }, timeoutMs);
        const check = () => {
          if (!predicate(states)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      }),
    close: async () => {
      let killed = 0;
      await Promise.all(
        children.map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const exited = once(c, 'exit');
          c.send({ type: 'exit' } satisfies Command);
          const t = setTimeout(() => {
            killed++;
            c.kill('SIGKILL');
          }, 5000);
          await exited;
          clearTimeout(t);
        }),
      );
      return killed;
    },
  };
}

/** The latest state each node reported (CLOSED when none). */
export function latest(states: readonly StateReport[], size: number): string[] {
  const out = Array.from({ length: size }, () => 'CLOSED');
  for (const s of states) out[s.index] = s.to;
  return out;
}
