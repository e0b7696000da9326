import { checkFunction, EventEmitter, type Mode, show } from '@cbsuite/core';
import { isNonNegInt, type Scope, type SyncContext } from './context.js';
import { RedisSyncError } from './errors.js';
import { type ConfigMessage, MAX_MESSAGE_BYTES, type ModeMessage } from './messages.js';
import { PutReply } from './scripts.js';

type Handler = (key: string, value: unknown) => void;

/** The hash field of a config or mode: kind, scope and key. */
const fieldOf = (m: ConfigMessage | ModeMessage) => `${m.t === 'mode' ? 'm' : 'c'}\n${m.scope}\n${m.key}`;
const MODES: readonly string[] = ['normal', 'disabled', 'metricsOnly', 'forcedOpen'];

/**
 * Configs and forced modes published to the fleet: stored in one hash (for
 * nodes that join later) and published on one channel. Each carries a
 * version (the server's time when published); a node applies only versions
 * newer than the one it has, whether they arrive by pub/sub or from the
 * store, and the store refuses to replace a newer one. A node that finds an
 * older version in the store than the one it applied writes its own back.
 */
export class FleetConfigs {
  private readonly handlers = new Map<string, EventEmitter<Parameters<Handler>>>();
  /** The newest message applied or published, by field. */
  private readonly known = new Map<string, { readonly ver: number; readonly raw: string }>();
  /** The newest mode by scope and key, for scopes attached later. */
  private readonly modes = new Map<string, Map<string, Mode>>();

  constructor(private readonly ctx: SyncContext) {}

  /** Decodes and applies a message read from the store; returns what it was, if it was a config or mode. */
  private receiveRaw(raw: string): { field: string; ver: number } | undefined {
    const m = this.ctx.codec.decode(raw);
    if (typeof m === 'string') {
      this.ctx.counters.refused[m]++;
      return undefined;
    }
    if (m.t === 'state') {
      this.ctx.counters.refused.garbage++;
      return undefined;
    }
    this.receive(m, raw);
    return { field: fieldOf(m), ver: m.ver };
  }

  async publishConfig(scope: string, key: string, value: unknown): Promise<void> {
    if (typeof scope !== 'string' || scope.length === 0 || scope.length > 64 || typeof key !== 'string') {
      throw new TypeError(`publishConfig needs a scope and a key, got ${show(scope)} and ${show(key)}`);
    }
    const field = `c\n${scope}\n${key}`;
    const ver = this.nextVersion(field);
    await this.put(field, ver, { v: 2, t: 'config', scope, key, value, ver, node: this.ctx.o.nodeId });
  }

  async publishMode(scope: string, key: string, mode: Mode): Promise<void> {
    if (typeof scope !== 'string' || scope.length === 0 || scope.length > 64) {
      throw new TypeError(`publishMode needs a scope, got ${show(scope)}`);
    }
    if (typeof key !== 'string' || key.length === 0) throw new TypeError(`publishMode needs a key, got ${show(key)}`);
    if (typeof mode !== 'string' || !MODES.includes(mode)) {
      throw new TypeError(`mode must be one of ${MODES.join(', ')}, got ${show(mode)}`);
    }
    const field = `m\n${scope}\n${key}`;
    const ver = this.nextVersion(field);
    const m: ModeMessage = { v: 2, t: 'mode', scope, key, mode, ver, node: this.ctx.o.nodeId };
    await this.put(field, ver, m);
    this.applyMode(m);
  }

  onConfig(scope: string, handler: Handler): () => void {
    checkFunction('handler', handler);
    let emitter = this.handlers.get(scope);
    if (emitter === undefined) {
      // A handler that throws refused the config (it was invalid there): counted and reported.
      emitter = new EventEmitter((err) => {
        this.ctx.counters.refusedConfigs++;
        this.ctx.report(err);
      });
      this.handlers.set(scope, emitter);
    }
    return emitter.event(handler);
  }

  /** Applies a config or mode message read from Redis, unless the node has this version or a newer one. */
  receive(m: ConfigMessage | ModeMessage, raw: string): void {
    const ctx = this.ctx;
    if (m.ver > ctx.serverNow() + ctx.o.maxSkewMs) {
      ctx.counters.refused.future++;
      return;
    }
    const field = fieldOf(m);
    const k = this.known.get(field);
    if (k !== undefined && m.ver <= k.ver) {
      if (m.ver < k.ver) ctx.counters.refused.stale++;
      return;
    }
    this.known.set(field, { ver: m.ver, raw });
    if (m.t === 'mode') this.applyMode(m);
    else this.applyConfig(m);
  }

  /** Reads every stored config and mode (when the sync connects, or a handler joins); writes back newer ones. */
  async read(): Promise<void> {
    const ctx = this.ctx;
    ctx.counters.commands++;
    const reply = await ctx.cmd.cbsReadConfigs(1, ctx.keys.config);
    if (!Array.isArray(reply)) return;
    if (isNonNegInt(reply[0])) ctx.counters.repaired += reply[0];
    const stored = new Map<string, number>();
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const got = this.receiveRaw(String(reply[i + 1]));
      stored.set(String(reply[i]), got?.field === String(reply[i]) ? got.ver : -1);
    }
    for (const [field, k] of this.known) {
      const ver = stored.get(field);
      if (ver === undefined || ver < k.ver) await this.write(field, k.ver, k.raw);
    }
  }

  /** Applies the modes the fleet holds for `scope`'s keys (a scope attached after they arrived). */
  applyModesTo(scope: Scope): void {
    for (const [key, mode] of this.modes.get(scope.name) ?? []) scope.panel.setMode?.(key, mode);
  }

  private nextVersion(field: string): number {
    return Math.max(this.ctx.serverNow(), (this.known.get(field)?.ver ?? 0) + 1);
  }

  private async put(field: string, ver: number, m: ConfigMessage | ModeMessage): Promise<void> {
    const raw = this.ctx.codec.encode(m);
    if (raw.length > MAX_MESSAGE_BYTES) {
      throw new RangeError(
        `the ${m.t} for ${show(m.key)} is ${raw.length} bytes as JSON; at most ${MAX_MESSAGE_BYTES}`,
      );
    }
    // Known before it is sent, so that its own echo on the channel is not applied again.
    const before = this.known.get(field);
    this.known.set(field, { ver, raw });
    let code: unknown;
    try {
      code = await this.write(field, ver, raw);
    } catch (err) {
      if (this.known.get(field)?.ver === ver) {
        if (before === undefined) this.known.delete(field);
        else this.known.set(field, before);
      }
      throw err;
    }
    // Another node published a newer one meanwhile: take it.
    if (code === PutReply.NewerStands) await this.read();
  }

  private async write(field: string, ver: number, raw: string): Promise<unknown> {
    const ctx = this.ctx;
    if (!ctx.conn.ready) {
      throw new RedisSyncError('notReady', `cannot publish to the fleet: Redis is not reachable`, ctx.keys.config);
    }
    ctx.counters.commands++;
    let reply: unknown;
    try {
      reply = await ctx.cmd.cbsPutConfig(
        1,
        ctx.keys.config,
        field,
        raw,
        ver,
        ctx.keys.configChannel,
        ctx.o.maxSkewMs,
        ctx.o.configTtlMs,
        ctx.conn.publishCommand,
        MAX_MESSAGE_BYTES,
      );
    } catch (err) {
      throw new RedisSyncError(
        'redis',
        `Redis refused to store a config: ${(err as Error).message}`,
        ctx.keys.config,
        err,
      );
    }
    const [code, repairs] = Array.isArray(reply) ? reply : [];
    if (isNonNegInt(repairs)) ctx.counters.repaired += repairs;
    return code;
  }

  private applyConfig(m: ConfigMessage): void {
    this.handlers.get(m.scope)?.emit(m.key, m.value);
  }

  private applyMode(m: ModeMessage): void {
    let byKey = this.modes.get(m.scope);
    if (byKey === undefined) {
      byKey = new Map();
      this.modes.set(m.scope, byKey);
    }
    if (m.mode === 'normal') byKey.delete(m.key);
    else byKey.set(m.key, m.mode);
    const scope = this.ctx.scopes.get(m.scope);
    if (scope === undefined || scope.closing) return;
    try {
      // Clearing a mode needs no breaker where there is none.
      if (m.mode !== 'normal') scope.panel.setMode?.(m.key, m.mode);
      else scope.panel.breaker(m.key)?.setMode(m.mode);
    } catch (err) {
      this.ctx.report(err);
    }
  }
}
