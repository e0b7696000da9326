import type { Behaviour } from './behaviour.js';

/** What the demo tells an instance process: behave so from now on; `seq` is echoed once done. */
export type ToInstance = { readonly type: 'behave'; readonly behaviour: Behaviour; readonly seq: number };

/** What an instance process tells the demo. */
export type FromInstance =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'behaving'; readonly seq: number };
