import type { FleetConfigs } from './configs.js';
import type { SyncContext, Tracked } from './context.js';
import type { FleetStates } from './fleet-state.js';

// Messages and records read from Redis: decoded and checked by the codec,
// counted when refused, then handed to the states or the configs. A state
// must arrive on its key group's channel; configs and modes on theirs.

/** A message that arrived on `channel`. */
export function receiveMessage(
  ctx: SyncContext,
  states: FleetStates,
  configs: FleetConfigs,
  channel: string,
  raw: string,
): void {
  const m = ctx.codec.decode(raw);
  if (typeof m === 'string') {
    ctx.counters.refused[m]++;
    return;
  }
  if (m.t === 'state') {
    const group = ctx.keys.groupOfChannel(channel);
    if (group === undefined || group !== ctx.keys.groupOf(m.scope, m.key)) {
      ctx.counters.refused.garbage++;
      return;
    }
    states.apply(m, undefined);
  } else if (channel === ctx.keys.configChannel) configs.receive(m, raw);
  else ctx.counters.refused.garbage++;
}

/** A stored state, read for `tr` (a flush reply) or for whatever breaker it names (catching up). */
export function receiveState(ctx: SyncContext, states: FleetStates, raw: string, tr: Tracked | undefined): void {
  const m = ctx.codec.decode(raw);
  if (typeof m === 'string') {
    ctx.counters.refused[m]++;
    return;
  }
  if (m.t !== 'state') {
    ctx.counters.refused.garbage++;
    return;
  }
  states.apply(m, tr);
}
