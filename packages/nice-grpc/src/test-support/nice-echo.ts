// A nice-grpc client of proto/echo.proto over a channel of a CBSuite, for the tests.
import type { CBSuite } from '@cbsuite/grpc-interceptor';
import { EchoService, type SayReply } from '@cbsuite/testkit/echo.js';
import { ChannelCredentials } from '@grpc/grpc-js';
import { type CallOptions, type ClientMiddleware, createChannel, createClientFactory } from 'nice-grpc';
import { cbsuiteMiddleware } from '../middleware.js';

/** The Echo service as nice-grpc gives it for grpc-js's definition. */
export interface NiceEcho {
  Say(req: { text: string }, options?: CallOptions): Promise<SayReply>;
  Count(req: { text: string; count: number }, options?: CallOptions): AsyncIterable<SayReply>;
}

/** A client of `addresses` (round robin) with the suite's instance level on the channel and its middleware. */
export function niceEcho(
  cbs: CBSuite,
  addresses: readonly string[],
  inner?: ClientMiddleware,
): { client: NiceEcho; close: () => void } {
  const channel = createChannel(
    `ipv4:${addresses.join(',')}`,
    ChannelCredentials.createInsecure(),
    cbs.channelOptions(),
  );
  let factory = createClientFactory();
  if (inner !== undefined) factory = factory.use(inner);
  const client = factory.use(cbsuiteMiddleware(cbs)).create(EchoService, channel) as unknown as NiceEcho;
  return { client, close: () => channel.close() };
}

/** Collects a stream, or the error that ended it. */
export async function collectStream(s: AsyncIterable<SayReply>): Promise<{ value?: SayReply[]; error?: unknown }> {
  const got: SayReply[] = [];
  try {
    for await (const m of s) got.push(m);
    return { value: got };
  } catch (error) {
    return { error };
  }
}

/** A unary Say as a promise that never rejects. */
export async function sayNice(
  client: NiceEcho,
  text: string,
  options?: CallOptions,
): Promise<{ value?: SayReply; error?: unknown }> {
  try {
    return { value: await client.Say({ text }, options) };
  } catch (error) {
    return { error };
  }
}
