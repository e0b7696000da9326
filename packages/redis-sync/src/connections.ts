import type { Socket } from 'node:net';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** What the sync hears from its connections. */
export interface ConnectionEvents {
  /** The command connection is ready (again): catch up with the fleet now. */
  onReady(): void;
  /** The command connection is gone. */
  onDown(): void;
  /** A message arrived on a channel the sync listens to. */
  onMessage(channel: string, raw: string): void;
  onError(err: unknown): void;
}

type Client = Redis | Cluster;

/**
 * The connections the sync owns, made from the user's client with
 * `duplicate()` (same address, AUTH, TLS): one for commands and one for
 * pub/sub. They reconnect on a short capped schedule whatever the user's
 * client does, never queue commands while disconnected, and never keep the
 * process alive on their own.
 *
 * State messages travel on one channel per key group: sharded pub/sub
 * (`SSUBSCRIBE`/`SPUBLISH`, routed by slot) on a Redis 7 Cluster, classic
 * channels otherwise.
 */
export class Connections {
  readonly cmd: Client;
  readonly cluster: boolean;
  private sub: Client | undefined;
  private sharded = false;
  private detected = false;
  private closed = false;
  private readonly channels = new Set<string>();
  private readonly subscribing = new Set<Promise<void>>();

  constructor(
    private readonly template: Client,
    private readonly name: string,
    private readonly reconnectMaxMs: number,
    private readonly events: ConnectionEvents,
  ) {
    this.cluster = (template as Cluster).isCluster === true;
    const retry = (times: number) => Math.min(times * 20, reconnectMaxMs);
    // lazyConnect is the user's choice for their client, not for the sync's connections.
    const cmdOptions: Partial<RedisOptions> = {
      lazyConnect: false,
      connectionName: name,
      retryStrategy: retry,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    this.cmd = this.cluster
      ? (template as Cluster).duplicate([], {
          lazyConnect: false,
          clusterRetryStrategy: retry,
          enableOfflineQueue: false,
          redisOptions: cmdOptions,
        } satisfies Partial<ClusterOptions>)
      : (template as Redis).duplicate(cmdOptions);
    this.unrefAll(this.cmd);
    this.cmd.on('error', (err: unknown) => events.onError(err));
    this.cmd.on('ready', () => void this.onCmdReady());
    this.cmd.on('close', () => {
      if (!this.closed) events.onDown();
    });
    if (!this.cluster) this.openSub(false);
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return !this.closed && this.cmd.status === 'ready';
  }

  /** The command that publishes a state on a group channel. */
  get publishCommand(): 'PUBLISH' | 'SPUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  /** Listens to `channel` from now on (again after every reconnection). */
  listen(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    const sub = this.sub;
    if (sub !== undefined) this.subscribe(sub, [channel]);
  }

  /** Whether the sync listens to `channel`. */
  listens(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** Closes both connections; pending commands are answered or dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.cmd, this.sub].map((c) => (c === undefined ? undefined : quit(c))));
  }

  // On a Cluster the kind of pub/sub depends on the server's version, read
  // once the first command connection is ready.
  private async onCmdReady(): Promise<void> {
    if (this.closed) return;
    if (!this.detected && this.cluster) {
      try {
        const info = String(await this.cmd.info('server'));
        const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
        this.sharded = major >= 7;
        this.detected = true;
        this.openSub(this.sharded);
      } catch (err) {
        this.events.onError(err);
        return;
      }
    }
    this.detected = true;
    this.events.onReady();
  }

  private openSub(sharded: boolean): void {
    if (this.sub !== undefined || this.closed) return;
    const retry = (times: number) => Math.min(times * 20, this.reconnectMaxMs);
    const options: Partial<RedisOptions> = {
      lazyConnect: false,
      connectionName: `${this.name}:sub`,
      retryStrategy: retry,
    };
    const sub = this.cluster
      ? (this.template as Cluster).duplicate([], {
          lazyConnect: false,
          clusterRetryStrategy: retry,
          shardedSubscribers: sharded,
          redisOptions: options,
        } satisfies Partial<ClusterOptions>)
      : (this.template as Redis).duplicate(options);
    this.sub = sub;
    this.unrefAll(sub);
    sub.on('error', (err: unknown) => this.events.onError(err));
    const deliver = (channel: string, raw: string) => this.events.onMessage(channel, raw);
    sub.on(sharded ? 'smessage' : 'message', deliver);
    if (this.channels.size > 0) this.subscribe(sub, [...this.channels]);
  }

  /** Resolves once every subscription asked for so far is in place (or the connections are closed). */
  async listening(): Promise<void> {
    while (this.subscribing.size > 0) await Promise.allSettled([...this.subscribing]);
  }

  // A subscription that fails (a sharded subscriber not started yet, a
  // connection lost) is asked for again shortly, until it holds.
  private subscribe(sub: Client, channels: string[], attempt = 0): void {
    // A sharded subscription takes the channels of one slot per call.
    const groups = this.sharded ? channels.map((c) => [c]) : [channels];
    for (const chs of groups) {
      const call = this.sharded ? sub.ssubscribe(chs[0] as string) : sub.subscribe(...chs);
      const p: Promise<void> = call.then(
        () => undefined,
        (err: unknown) => {
          this.events.onError(err);
          if (this.closed || this.sub !== sub) return;
          const wait = Math.min(this.reconnectMaxMs, 25 * 2 ** Math.min(attempt, 5));
          const retry = new Promise<void>((resolve) => setTimeout(resolve, wait).unref?.()).then(() => {
            if (!this.closed && this.sub === sub) this.subscribe(sub, chs, attempt + 1);
          });
          this.subscribing.add(retry);
          void retry.finally(() => this.subscribing.delete(retry));
        },
      );
      this.subscribing.add(p);
      void p.finally(() => this.subscribing.delete(p));
    }
  }

  // The sync's own sockets must not keep a process alive that is otherwise done.
  private unrefAll(client: Client): void {
    const unref = (r: Redis) => {
      const apply = () => (r as unknown as { stream?: Socket }).stream?.unref?.();
      r.on('connect', apply);
      apply();
    };
    if ((client as Cluster).isCluster) (client as Cluster).on('+node', (r: Redis) => unref(r));
    else unref(client as Redis);
  }
}

async function quit(c: Client): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      c.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    c.disconnect();
  }
}
