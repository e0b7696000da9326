// Real grpc-js servers and clients for the tests: the Echo service of
// proto/echo.proto, served on 127.0.0.1:0 with a behaviour the test sets.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, type ServingStatus, type ServingStatusMap } from 'grpc-health-check';

const PROTO = fileURLToPath(new URL('../../../proto/echo.proto', import.meta.url));

export interface SayRequest {
  text: string;
}
export interface SayReply {
  text: string;
  instance: string;
}

type Callback = (err: grpc.ServiceError | null, reply?: SayReply) => void;
type Unary = (req: SayRequest, ...rest: unknown[]) => grpc.ClientUnaryCall;

/** The generated-looking client of echo.v1.Echo. */
export interface EchoClient extends grpc.Client {
  Say(req: SayRequest, cb: Callback): grpc.ClientUnaryCall;
  Say(req: SayRequest, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback): grpc.ClientUnaryCall;
  Say(req: SayRequest, options: grpc.CallOptions, cb: Callback): grpc.ClientUnaryCall;
  Count(req: { text: string; count: number }, options?: grpc.CallOptions): grpc.ClientReadableStream<SayReply>;
  Collect(cb: Callback): grpc.ClientWritableStream<SayRequest>;
  Collect(options: grpc.CallOptions, cb: Callback): grpc.ClientWritableStream<SayRequest>;
  Chat(options?: grpc.CallOptions): grpc.ClientDuplexStream<SayRequest, SayReply>;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
// biome-ignore lint/suspicious/noExplicitAny: loadPackageDefinition is untyped
const echo = (grpc.loadPackageDefinition(definition) as any).echo.v1;
export const EchoClient: new (
  target: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => EchoClient = echo.Echo;
export const EchoService: grpc.ServiceDefinition = echo.Echo.service;

export type Method = 'Say' | 'Count' | 'Collect' | 'Chat';

/** What a server does with a request: answer, or fail with a status. */
export interface Answer {
  /** Non-OK fails the call with this status. */
  readonly code?: grpc.status;
  readonly details?: string;
  /** Trailers sent with a failure. */
  readonly trailers?: grpc.Metadata;
  /** Delay before answering, in ms (real time: only for deadline tests). */
  readonly delayMs?: number;
  /** Send the response headers (with `x-instance`: the server's address) before answering. */
  readonly headers?: boolean;
}
export type Behavior = (method: Method, text: string) => Answer | undefined;

export interface EchoServer {
  readonly port: number;
  readonly address: string;
  /** Calls that reached the handler, by method. */
  readonly hits: Record<Method, number>;
  /** Total calls that reached a handler. */
  total(): number;
  setBehavior(b: Behavior): void;
  /** Stops at once, cutting calls in flight (the instance "dies"). */
  kill(): void;
  /**
   * Sets what the standard health service (grpc.health.v1.Health, from
   * grpc-health-check) answers for `service`; throws when the server was
   * started without `health`.
   */
  setHealth(service: string, status: ServingStatus): void;
  /** Health checks that reached the server. */
  readonly healthChecks: () => number;
  close(): Promise<void>;
}

const fail = (a: Answer): Partial<grpc.StatusObject> => ({
  code: a.code,
  details: a.details ?? `failed by test behaviour (${grpc.status[a.code ?? 0]})`,
  metadata: a.trailers ?? new grpc.Metadata(),
});

function instanceHeader(self: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-instance', self);
  return md;
}

export interface EchoServerOptions {
  /** Serve the standard health service too, answering so at first (`{ '': 'SERVING' }`: the server serves). */
  readonly health?: ServingStatusMap;
  /** Delay before each health check is answered, in ms (real time). Default 0. */
  readonly healthDelayMs?: number;
}

export async function startEchoServer(
  behavior: Behavior = () => undefined,
  port = 0,
  options: EchoServerOptions = {},
): Promise<EchoServer> {
  let b = behavior;
  const hits: Record<Method, number> = { Say: 0, Count: 0, Collect: 0, Chat: 0 };
  const server = new grpc.Server();
  let checks = 0;
  const health = options.health === undefined ? undefined : new HealthImplementation(options.health);
  if (health !== undefined) {
    // Counts the checks that reach the handler, then lets the package answer.
    const counting: grpc.Server = Object.create(server, {
      addService: {
        value: (service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
          const check = impl.check as grpc.handleUnaryCall<unknown, unknown>;
          server.addService(service, {
            ...impl,
            check: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
              checks++;
              const delayMs = options.healthDelayMs ?? 0;
              if (delayMs > 0) setTimeout(() => check(call, cb), delayMs);
              else check(call, cb);
            },
          });
        },
      },
    });
    health.addToServer(counting);
  }
  let self = '';
  const answer = (method: Method, text: string) => {
    hits[method]++;
    return b(method, text) ?? {};
  };
  const later = (ms: number | undefined, f: () => void) => (ms ? setTimeout(f, ms) : f());
  server.addService(EchoService, {
    Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, cb: grpc.sendUnaryData<SayReply>) => {
      const a = answer('Say', call.request.text);
      if (a.headers) call.sendMetadata(instanceHeader(self));
      later(a.delayMs, () => (a.code ? cb(fail(a)) : cb(null, { text: call.request.text, instance: self })));
    },
    Count: (call: grpc.ServerWritableStream<{ text: string; count: number }, SayReply>) => {
      const a = answer('Count', call.request.text);
      later(a.delayMs, () => {
        if (a.code) {
          call.emit('error', fail(a));
          return;
        }
        for (let i = 0; i < call.request.count; i++) call.write({ text: `${call.request.text}#${i}`, instance: self });
        call.end();
      });
    },
    Collect: (call: grpc.ServerReadableStream<SayRequest, SayReply>, cb: grpc.sendUnaryData<SayReply>) => {
      const texts: string[] = [];
      call.on('data', (m: SayRequest) => texts.push(m.text));
      call.on('end', () => {
        const a = answer('Collect', texts.join(','));
        later(a.delayMs, () => (a.code ? cb(fail(a)) : cb(null, { text: texts.join(','), instance: self })));
      });
    },
    Chat: (call: grpc.ServerDuplexStream<SayRequest, SayReply>) => {
      let first = true;
      call.on('data', (m: SayRequest) => {
        if (first) {
          first = false;
          const a = answer('Chat', m.text);
          if (a.code) {
            call.emit('error', fail(a));
            return;
          }
        }
        call.write({ text: m.text, instance: self });
      });
      call.on('end', () => call.end());
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  self = `127.0.0.1:${bound}`;
  return {
    port: bound,
    address: self,
    hits,
    total: () => hits.Say + hits.Count + hits.Collect + hits.Chat,
    setBehavior: (next) => {
      b = next;
    },
    kill: () => server.forceShutdown(),
    setHealth: (service, status) => {
      if (health === undefined) throw new Error('this echo server was started without the health service');
      health.setStatus(service, status);
    },
    healthChecks: () => checks,
    close: () =>
      new Promise<void>((resolve) =>
        server.tryShutdown(() => {
          resolve();
        }),
      ),
  };
}

export interface CallResult<T> {
  readonly value?: T;
  readonly error?: grpc.ServiceError;
}

/** A unary Say as a promise that never rejects. */
export function say(
  client: EchoClient,
  text: string,
  options: grpc.CallOptions = {},
  metadata = new grpc.Metadata(),
): Promise<CallResult<SayReply>> {
  return new Promise((resolve) =>
    (client.Say as unknown as Unary)({ text }, metadata, options, (error: grpc.ServiceError | null, value?: SayReply) =>
      resolve(error ? { error } : { value }),
    ),
  );
}

/** `n` unary Says, `concurrency` in flight at a time; rejects with the first error. */
export async function sayTimes(client: EchoClient, n: number, concurrency = 16): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        const r = await say(client, 'bench');
        if (r.error) throw r.error;
      }
    }),
  );
}

/** A server-streaming Count, collected. */
export function count(
  client: EchoClient,
  text: string,
  n: number,
  options: grpc.CallOptions = {},
): Promise<CallResult<SayReply[]>> {
  return new Promise((resolve) => {
    const got: SayReply[] = [];
    const call = client.Count({ text, count: n }, options);
    call.on('data', (m: SayReply) => got.push(m));
    call.on('error', (error: grpc.ServiceError) => resolve({ error }));
    call.on('end', () => resolve({ value: got }));
  });
}

/** A client-streaming Collect of `texts`. */
export function collect(
  client: EchoClient,
  texts: string[],
  options: grpc.CallOptions = {},
): Promise<CallResult<SayReply>> {
  return new Promise((resolve) => {
    const call = client.Collect(options, (error, value) => resolve(error ? { error } : { value }));
    for (const text of texts) call.write({ text });
    call.end();
  });
}

/** A bidi Chat of `texts`, collected. */
export function chat(
  client: EchoClient,
  texts: string[],
  options: grpc.CallOptions = {},
): Promise<CallResult<SayReply[]>> {
  return new Promise((resolve) => {
    const got: SayReply[] = [];
    const call = client.Chat(options);
    call.on('data', (m: SayReply) => got.push(m));
    call.on('error', (error: grpc.ServiceError) => resolve({ error }));
    call.on('end', () => resolve({ value: got }));
    for (const text of texts) call.write({ text });
    call.end();
  });
}

/** Channel options for grpc-js's plain round_robin, the baseline the instance level is compared with. */
export const ROUND_ROBIN: grpc.ChannelOptions = Object.freeze({
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
});

/** An `ipv4:` target over the given servers. */
export function ipv4Target(servers: readonly { port: number }[]): string {
  return `ipv4:${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`;
}

export { grpc };
