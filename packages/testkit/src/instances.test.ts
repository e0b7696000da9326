import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { IMMEDIATE } from './behaviour.js';
import { EchoClient, type SayReply } from './echo.js';
import { Instances } from './instances.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function say(client: EchoClient, waitForReady = false): Promise<{ reply?: SayReply; error?: grpc.ServiceError }> {
  const metadata = new grpc.Metadata();
  metadata.setOptions({ waitForReady });
  return new Promise((resolve) =>
    client.Say({ text: 'hi' }, metadata, { deadline: Date.now() + 5000 }, (error, reply) =>
      resolve(error ? { error } : { reply }),
    ),
  );
}

describe('Instances', () => {
  it('runs instances in child processes that can be killed for real, respawned on their port, and told how to behave', async () => {
    const instances = await Instances.start(2, IMMEDIATE);
    cleanups.push(() => instances.stop());
    const [, b] = instances.addresses as [string, string];
    expect(instances.addresses).toHaveLength(2);
    const client = new EchoClient(`ipv4:${b}`, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 200,
    });
    cleanups.push(() => client.close());

    expect((await say(client)).reply).toEqual({ text: 'hi', instance: b });
    await instances.setBehaviour({ failRate: 1, code: 'RESOURCE_EXHAUSTED', delayMs: 0 });
    expect((await say(client)).error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    await instances.kill(b);
    expect(instances.isUp(b)).toBe(false);
    expect((await say(client)).error?.code).toBe(grpc.status.UNAVAILABLE);

    await instances.respawn(b);
    expect(instances.isUp(b)).toBe(true);
    // The respawned instance keeps the behaviour the others were told.
    expect((await say(client, true)).error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await instances.setBehaviour({ failRate: 0, code: 'INTERNAL', delayMs: 40 });
    const t0 = performance.now();
    expect((await say(client)).reply).toEqual({ text: 'hi', instance: b });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);

    await instances.stop();
    expect(instances.addresses.map((a) => instances.isUp(a))).toEqual([false, false]);
  });
});
