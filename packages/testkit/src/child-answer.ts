import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A message of a child process of the testkit: each says what it is by `type`; `failed` carries why. */
export type ChildMessage = { readonly type: string } | { readonly type: 'failed'; readonly message: string };

/**
 * The next message of `type` from `child` (named `name` in errors). Rejects
 * when the child says `failed` first (with its message), has exited or exits first, or (with
 * `timeoutMs`) does not say it in time.
 */
export function answer<M extends ChildMessage, T extends M['type']>(
  child: ChildProcess,
  name: string,
  type: T,
  timeoutMs?: number,
): Promise<Extract<M, { type: T }>> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`${name} has exited`));
  let onMessage: ((m: M) => void) | undefined;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<Extract<M, { type: T }>>((resolve, reject) => {
    if (timeoutMs !== undefined)
      timer = setTimeout(() => reject(new Error(`${name} did not say ${type} in ${timeoutMs} ms`)), timeoutMs);
    onMessage = (m) => {
      if (m.type === type) resolve(m as Extract<M, { type: T }>);
      else if (m.type === 'failed') reject(new Error(`${name}: ${(m as { message: string }).message}`));
    };
    onExit = (code, signal) => reject(new Error(`${name} exited (${signal ?? code}) before it said ${type}`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  }).finally(() => {
    clearTimeout(timer);
    if (onMessage) child.off('message', onMessage);
    if (onExit) child.off('exit', onExit);
  });
}

/** SIGKILL, unless the process has already gone; resolves once it has. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
