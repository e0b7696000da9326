// The Echo service of proto/echo.proto for the examples: servers on
// 127.0.0.1:0 that answer `Say` as a behaviour function decides and count the
// calls that reach them, and a client. The servers implement `Say` only.
import * as grpc from '@grpc/grpc-js';
import { type EchoClient, EchoService, type SayReply } from './echo.js';

export { EchoClient, type SayReply } from './echo.js';

/** How a server answers a `Say` of `text`: `undefined` echoes it, a status with a non-OK code fails the call. */
export type Behaviour = (text: string) => Partial<grpc.StatusObject> | undefined;

export interface EchoServer {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Calls that reached this server. */
  hits: number;
  /** Replace it to change how the server answers from the next call on. */
  behaviour: Behaviour;
}

const running = new Map<EchoServer, grpc.Server>();

/** Starts `n` Echo servers on 127.0.0.1, each on a free port, all answering with `behaviour`. */
export function startEchoServers(n: number, behaviour: Behaviour = () => undefined): Promise<EchoServer[]> {
  return Promise.all(Array.from({ length: n }, () => startEchoServer(behaviour)));
}

async function startEchoServer(behaviour: Behaviour): Promise<EchoServer> {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const echo: EchoServer = { address: `127.0.0.1:${port}`, hits: 0, behaviour };
  server.addService(EchoService, {
    Say: (call: grpc.ServerUnaryCall<{ text: string }, SayReply>, callback: grpc.sendUnaryData<SayReply>) => {
      echo.hits++;
      const failure = echo.behaviour(call.request.text);
      if (failure === undefined || failure.code === grpc.status.OK) {
        callback(null, { text: call.request.text, instance: echo.address });
      } else {
        callback(failure);
      }
    },
  });
  running.set(echo, server);
  return echo;
}

/** Stops `servers` (close their clients first: a server waits for its connections to end). */
export async function closeEchoServers(servers: readonly EchoServer[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          const server = running.get(s);
          running.delete(s);
          if (server === undefined) resolve();
          else server.tryShutdown(() => resolve());
        }),
    ),
  );
}

/** A `Say` as a promise that never rejects: the reply, or the error the call ended with. */
export function say(client: EchoClient, text: string): Promise<{ reply?: SayReply; error?: grpc.ServiceError }> {
  return new Promise((resolve) => client.Say({ text }, (error, reply) => resolve(error ? { error } : { reply })));
}
