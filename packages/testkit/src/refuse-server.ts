// A raw HTTP/2 server that refuses every stream with REFUSED_STREAM, as a
// server that is shutting down (GOAWAY) or over its stream limit does: the
// gRPC application never sees the call, so clients may retry it anywhere.
import { once } from 'node:events';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface RefuseServer {
  readonly address: string;
  readonly port: number;
  /** Streams refused so far. */
  readonly refused: () => number;
  /** The `x-cbsuite-retry` header of each stream refused, in order (undefined when absent). */
  readonly retryHeaders: (string | undefined)[];
  close(): Promise<void>;
}

export async function startRefuseServer(): Promise<RefuseServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  let refused = 0;
  const retryHeaders: (string | undefined)[] = [];
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    refused++;
    const h = headers['x-cbsuite-retry'];
    retryHeaders.push(Array.isArray(h) ? h[0] : h);
    stream.on('error', () => {});
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    refused: () => refused,
    retryHeaders,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
