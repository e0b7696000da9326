import { randomBytes } from 'node:crypto';
import { FleetConfigs } from './configs.js';
import { Connections } from './connections.js';
import { type Counters, newCounters, type Scope, type SyncCommands, type SyncContext } from './context.js';
import { isRedisSyncError, RedisSyncError } from './errors.js';
import { FleetStates } from './fleet-state.js';
import { FLUSH } from './flush-script.js';
import { Flusher } from './flusher.js';
import { Keys } from './keys.js';
import { updateGate } from './lease.js';
import { MessageCodec } from './messages.js';
import type { ResolvedSyncOptions } from './options.js';
import { Readiness } from './readiness.js';
import { receiveMessage, receiveState } from './receiver.js';
import { OPEN_KEYS, PUT_CONFIG, PUT_STATE, READ_CONFIGS, SERVER_TIME } from './scripts.js';

/**
 * The engine under a `RedisSync`: its connections and scripts, the flush
 * timer, the health of Redis as the sync sees it, and catching up with the
 * fleet whenever a connection is ready. `RedisSync` is its public face.
 */
export class SyncLoop {
  readonly ctx: SyncContext;
  readonly conn: Connections;
  readonly counters: Counters;
  readonly flusher: Flusher;
  readonly states: FleetStates;
  readonly configs: FleetConfigs;
  readonly readiness: Readiness;
  healthy = false;
  caughtUp = false;
  closing = false;
  lastGood = Number.NEGATIVE_INFINITY;
  lastError: unknown;
  private readonly inflight = new Set<Promise<unknown>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private catchingUp: Promise<void> | undefined;
  private soon = false;
  private offset = 0;

  constructor(
    private readonly o: ResolvedSyncOptions,
    private readonly scopes: Map<string, Scope>,
  ) {
    this.counters = newCounters();
    this.readiness = new Readiness(o.readyTimeoutMs);
    const keys = new Keys(o.namespace, o.groups);
    const token = `${o.nodeId}:${randomBytes(8).toString('hex')}`;
    this.conn = new Connections(o.redis, `cbsuite:${o.namespace}:${o.nodeId}`, o.reconnectMaxMs, {
      onReady: () => void this.catchUp(),
      onDown: () => {
        this.caughtUp = false;
        this.setHealthy(false);
      },
      onMessage: (channel, raw) => receiveMessage(this.ctx, this.states, this.configs, channel, raw),
      onError: (err) => this.report(err),
    });
    const cmd = this.conn.cmd;
    // defineCommand sends a script again with EVAL when Redis has forgotten it (after a restart).
    cmd.defineCommand('cbsFlush', { lua: FLUSH });
    cmd.defineCommand('cbsPutState', { lua: PUT_STATE });
    cmd.defineCommand('cbsPutConfig', { lua: PUT_CONFIG });
    cmd.defineCommand('cbsOpenKeys', { lua: OPEN_KEYS });
    cmd.defineCommand('cbsReadConfigs', { lua: READ_CONFIGS });
    cmd.defineCommand('cbsServerTime', { numberOfKeys: 0, lua: SERVER_TIME });
    const self = this;
    this.ctx = {
      o,
      keys,
      codec: new MessageCodec(o.secret, o.namespace),
      conn: this.conn,
      cmd: cmd as unknown as SyncCommands,
      counters: this.counters,
      scopes,
      token,
      get healthy() {
        return self.healthy;
      },
      serverNow: () => Math.round(o.now() + this.offset),
      observeServerTime: (serverNow, sent, received) => {
        this.offset = serverNow - (sent + received) / 2;
      },
      report: (err) => this.report(err),
      track: (p) => this.track(p),
    };
    this.flusher = new Flusher(this.ctx, {
      onState: (raw, tr) => receiveState(this.ctx, this.states, raw, tr),
      onPromoted: (tr) => {
        const coolsAt = tr.breaker.coolsAt();
        const remaining = coolsAt === undefined ? 0 : coolsAt - tr.scope.now();
        if (remaining > 0) this.track(this.states.put(tr, 'open', remaining, tr.breaker.attempt()));
      },
      setHealthy: (h) => this.setHealthy(h),
    });
    this.states = new FleetStates(this.ctx);
    this.configs = new FleetConfigs(this.ctx);
    this.conn.listen(keys.configChannel);
    this.timer = setInterval(() => this.tick(), o.syncIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer: what remains to send goes with explicit flushes. */
  stop(): void {
    this.closing = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Resolves when no write of the sync (state, last flush of a panel) is still on its way to Redis. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  tick(): void {
    if (this.closing) return;
    void this.flusher
      .flush()
      .catch((err: unknown) => this.report(err))
      .finally(() => this.prune());
  }

  flushSoon(): void {
    if (this.soon || this.closing) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      this.tick();
    });
  }

  /** Whether anything recorded or held is still to be sent. */
  unsent(): boolean {
    for (const s of this.scopes.values()) {
      for (const tr of [...s.tracked.values(), ...s.retired]) {
        if (this.flusher.hasUnsent(tr) || tr.leaseHeld || tr.failMember !== '') return true;
      }
    }
    return false;
  }

  /** Forgets scopes whose panel detached, once their last flush is done. */
  prune(): void {
    for (const [name, s] of this.scopes) {
      if (!s.closing || this.closing) continue;
      const done = [...s.tracked.values(), ...s.retired].every(
        (tr) => !this.flusher.hasUnsent(tr) && !tr.leaseHeld && tr.failMember === '',
      );
      if (done || !this.healthy) this.scopes.delete(name);
    }
  }

  track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) {
      if (healthy) this.lastGood = this.o.now();
      return;
    }
    this.healthy = healthy;
    if (healthy) this.lastGood = this.o.now();
    for (const s of this.scopes.values()) {
      for (const tr of s.tracked.values()) {
        if (!healthy) {
          tr.leaseHeld = false;
          tr.link.setView(undefined);
        }
        updateGate(this.ctx, tr);
      }
    }
    // Back after a slow spell without a reconnection: catch up as after one.
    if (healthy && !this.caughtUp) void this.catchUp();
  }

  /**
   * After (re)connecting: re-asserts this node's fleet opens (Redis may have
   * restarted empty), reads the stored states and configs, then flushes every
   * key in use, so that the fleet agrees again at once.
   */
  catchUp(again = false): Promise<void> {
    if (this.catchingUp !== undefined && !again) return this.catchingUp;
    const run = async () => {
      if (this.closing || !this.conn.ready) return;
      try {
        const t0 = this.o.now();
        this.counters.commands++;
        const serverNow = Number(await this.ctx.cmd.cbsServerTime());
        const t1 = this.o.now();
        if (Number.isSafeInteger(serverNow) && serverNow > 0) this.ctx.observeServerTime(serverNow, t0, t1);
        this.setHealthy(true);
        await this.states.reassert();
        await this.states.readOpen((raw) => receiveState(this.ctx, this.states, raw, undefined));
        await this.configs.read();
        // Ready means listening too: a state published from now on reaches this node at once.
        await this.conn.listening();
        this.caughtUp = true;
        this.readiness.resolve();
        await this.flusher.flush(true);
      } catch (err) {
        this.report(err);
        if (isReplyError(err)) {
          const e = new RedisSyncError(
            'redis',
            `Redis refused what the sync needs: ${(err as Error).message}`,
            undefined,
            err,
          );
          this.readiness.reject(e);
        }
        // Try again shortly, unless a reconnection will.
        if (this.conn.ready && !this.closing) setTimeout(() => void this.catchUp(), 1000).unref?.();
      }
    };
    const p = run().finally(() => {
      if (this.catchingUp === p) this.catchingUp = undefined;
    });
    this.catchingUp = p;
    return p;
  }

  report(err: unknown): void {
    this.lastError = err;
    try {
      this.o.onError?.(err);
    } catch {
      // A failing error handler must not break the sync.
    }
  }
}

function isReplyError(err: unknown): boolean {
  return (
    !isRedisSyncError(err) &&
    typeof err === 'object' &&
    err !== null &&
    ((err as Error).name === 'ReplyError' || (err as Error).constructor?.name === 'ReplyError')
  );
}
