import { describe, expect, expectTypeOf, it } from 'vitest';
import { Breaker } from './breaker.js';
import { Panel } from './panel.js';

// What `execute` passes its function, and how that is typed: a signal exactly
// when the options set `timeoutMs` or `signal`, so only then may the function
// declare `(signal: AbortSignal) =>`. The calls that would not compile are
// checked by `pnpm typecheck` through the @ts-expect-error lines.
describe("execute's signal", () => {
  it('is an AbortSignal with timeoutMs, and the function may require one', async () => {
    const b = new Breaker();
    const seen = await b.execute(async (signal: AbortSignal) => signal, { timeoutMs: 1000 });
    expect(seen).toBeInstanceOf(AbortSignal);
    expect(seen.aborted).toBe(false);
    await b.execute(
      (signal) => {
        expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
        return signal.aborted;
      },
      { timeoutMs: 1000 },
    );
  });

  it("is an AbortSignal with a caller's signal, and follows it", async () => {
    const caller = new AbortController();
    const p = new Panel();
    const seen = await p.execute('k', async (signal: AbortSignal) => signal, { signal: caller.signal });
    expect(seen).toBeInstanceOf(AbortSignal);
    expect(seen).not.toBe(caller.signal);
    let inner: AbortSignal | undefined;
    const pending = p.execute(
      'k',
      (signal) => {
        inner = signal;
        return new Promise<never>(() => {});
      },
      { signal: caller.signal, timeoutMs: 10_000 },
    );
    caller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(inner?.aborted).toBe(true);
  });

  it('is undefined without those options, and typed so', async () => {
    const b = new Breaker();
    expect(await b.execute((signal) => signal)).toBeUndefined();
    expect(await b.execute((signal) => signal, { classify: () => 2 })).toBeUndefined();
    await b.execute((signal) => {
      expectTypeOf(signal).toEqualTypeOf<AbortSignal | undefined>();
    });
    // @ts-expect-error without timeoutMs or signal the function gets undefined
    await b.execute(async (signal: AbortSignal) => signal.aborted).catch(() => {});
    // @ts-expect-error the same through a panel
    await new Panel().execute('k', async (signal: AbortSignal) => signal.aborted, {}).catch(() => {});
  });
});
