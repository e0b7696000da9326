// A raw HTTP/2 server that speaks just enough gRPC to start answering Say and
// then lose the connection under the call, at a point the test chooses: after
// the response headers, or after the whole reply message but before the
// trailers (the status). grpc-js's own server cannot be stopped between the
// two, and a killed process stops wherever the kernel happens to be.
import { once } from 'node:events';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/** How far a call gets before the connection is cut. */
export type CutPoint = 'headers' | 'reply';

export interface CutServer {
  readonly address: string;
  /** Calls that reached the server. */
  readonly calls: () => number;
  /** Destroys every connection, with no GOAWAY and no trailers: the instance "dies" under its calls. */
  cut(): void;
  close(): Promise<void>;
}

/** The SayReply {text, instance} in protobuf wire format, in a gRPC length-prefixed frame. */
function replyFrame(text: string, instance: string): Buffer {
  const field = (tag: number, s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([tag, b.length]), b]);
  };
  const body = Buffer.concat([field(0x0a, text), field(0x12, instance)]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export async function startCutServer(point: CutPoint): Promise<CutServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  let calls = 0;
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  let self = '';
  server.on('stream', (stream) => {
    calls++;
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-instance': self });
    if (point === 'reply') stream.write(replyFrame('from the cut server', self));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address: self,
    calls: () => calls,
    cut: () => {
      for (const s of sessions) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
