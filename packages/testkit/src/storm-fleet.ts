// The parent side of a retry storm: client processes (storm-node.ts) forked
// together; for each storm, every one connects to the downstream, then all
// are told to go at the same moment, and each reports what its suite counted.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { answer, killChild } from './child-answer.js';
import { ready } from './fleet.js';
import type { FromStorm, Storm, StormResult, ToStorm } from './storm-node.js';

const NODE = fileURLToPath(new URL('./storm-node.ts', import.meta.url));
// `--import tsx` resolves from the child's working directory.
const CWD = fileURLToPath(new URL('.', import.meta.url));

/** Client processes that storm one target together, one storm at a time. */
export class StormFleet {
  private constructor(private readonly children: readonly ChildProcess[]) {}

  /** Forks `nodes` storm nodes calling `target`; resolves once each is ready. */
  static async start(nodes: number, target: string): Promise<StormFleet> {
    const children = Array.from({ length: nodes }, () =>
      fork(NODE, [target], { cwd: CWD, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
    );
    try {
      await Promise.all(children.map((c, i) => ready(c, nameOf(i))));
    } catch (err) {
      await Promise.all(children.map(killChild));
      throw err;
    }
    return new StormFleet(children);
  }

  get size(): number {
    return this.children.length;
  }

  /**
   * Each node connects with a suite of its own; once all have, they start
   * calling together. Resolves with each node's result, in order.
   */
  async storm(storm: Storm): Promise<StormResult[]> {
    const connected = this.children.map((c, i) => answer<FromStorm, 'connected'>(c, nameOf(i), 'connected'));
    for (const c of this.children) tell(c, { type: 'connect', storm });
    await Promise.all(connected);
    const done = this.children.map((c, i) => answer<FromStorm, 'done'>(c, nameOf(i), 'done'));
    for (const c of this.children) tell(c, { type: 'go' });
    return (await Promise.all(done)).map((d) => d.result);
  }

  /** Kills every node; resolves once all have gone. */
  async close(): Promise<void> {
    await Promise.all(this.children.map(killChild));
  }
}

const nameOf = (i: number) => `storm node ${i}`;

function tell(child: ChildProcess, m: ToStorm): void {
  if (child.connected) child.send(m);
}
