// The core engine against a baseline and against opossum and cockatiel. Each
// case returns one number: ns per operation, or bytes per breaker.
import { AdaptiveThrottle, ConcurrencyLimit, LatencyThrottle, Panel, rateTripFunc } from '@cbsuite/core';
import { ConsecutiveBreaker, circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import CircuitBreaker from 'opossum';
import { type MeasureOptions, measureAsync, measureRetained, measureSync, median } from './harness.js';

/** A case returns one number, or several named ones (reported as `case.name`). */
export type CaseResult = number | Readonly<Record<string, number>>;
export type Case = (o: MeasureOptions, smoke: boolean) => CaseResult | Promise<CaseResult>;

const KEYS = Array.from({ length: 10_000 }, (_, i) => `checkout/echo.v1.Echo/Method${i}`);
const ONE_KEY = 'checkout/echo.v1.Echo/Say';
const ok = async () => 1;
let calls = 0;
const failTenth = async () => {
  if (++calls % 10 === 0) throw new Error('downstream failed');
  return 1;
};
const noop = () => {};
// A call that waits for the event loop once, like the cheapest real I/O.
const yieldOnce = () => new Promise<number>((resolve) => setImmediate(resolve, 1));
let sink = 0;

/** ns per awaited call of `call`, whose rejections are caught. */
const awaitCaught = (o: MeasureOptions, call: () => Promise<unknown>) =>
  measureAsync(async (n) => {
    for (let i = 0; i < n; i++) {
      try {
        sink += (await call()) as number;
      } catch {}
    }
  }, o);

// The baseline of the sync cases: the least a keyed counter can do.
function baselineCounters(keys: readonly string[]) {
  const m = new Map<string, Uint32Array>();
  for (const k of keys) m.set(k, new Uint32Array(300));
  return m;
}

function opossumTripped() {
  const b = new CircuitBreaker(ok, { timeout: false, resetTimeout: 3_600_000 });
  b.open();
  return b;
}

export const coreCases: Record<string, Case> = {
  // Load shedding on but idle (the process is not starving, no limit is near): what it adds to a
  // breaker pair, measured against the plain pair in the same process, alternating.
  'shed/idle': (o, smoke) => {
    const p = new Panel();
    const t = new LatencyThrottle({ activeInFlight: 1_000_000 });
    const a = new AdaptiveThrottle();
    const c = new ConcurrencyLimit({ maxConcurrent: 1000 });
    const pair = (n: number) => {
      for (let i = 0; i < n; i++) if (p.isAllowed(ONE_KEY)) p.succeed(ONE_KEY);
    };
    const latency = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (!p.isAllowed(ONE_KEY)) continue;
        const at = t.start(ONE_KEY);
        if (at !== undefined) t.end(ONE_KEY, at);
        p.succeed(ONE_KEY);
      }
    };
    const adaptive = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (!p.isAllowed(ONE_KEY) || !a.admit(ONE_KEY)) continue;
        a.record(ONE_KEY, true);
        p.succeed(ONE_KEY);
      }
    };
    const concurrency = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (!p.isAllowed(ONE_KEY)) continue;
        const slot = c.acquire(ONE_KEY);
        if (slot === undefined) continue;
        c.release(ONE_KEY, slot, 'success');
        p.succeed(ONE_KEY);
      }
    };
    const all = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (!p.isAllowed(ONE_KEY)) continue;
        const slot = c.acquire(ONE_KEY);
        if (slot === undefined || !a.admit(ONE_KEY)) continue;
        const at = t.start(ONE_KEY);
        if (at !== undefined) t.end(ONE_KEY, at);
        a.record(ONE_KEY, true);
        c.release(ONE_KEY, slot, 'success');
        p.succeed(ONE_KEY);
      }
    };
    const loops = { pair, latency, adaptive, concurrency, all };
    const ns: Record<keyof typeof loops, number[]> = { pair: [], latency: [], adaptive: [], concurrency: [], all: [] };
    for (let r = 0; r < (smoke ? 1 : 5); r++)
      for (const [name, loop] of Object.entries(loops)) ns[name as keyof typeof loops].push(measureSync(loop, o));
    const added = (xs: number[]) => median(xs.map((v, i) => v - (ns.pair[i] as number)));
    return {
      pair: median(ns.pair),
      latency: median(ns.latency),
      all: median(ns.all),
      latencyAdded: added(ns.latency),
      adaptiveAdded: added(ns.adaptive),
      concurrencyAdded: added(ns.concurrency),
      allAdded: added(ns.all),
    };
  },
  'pair/baseline-1': (o) => {
    const m = baselineCounters([ONE_KEY]);
    return measureSync((n) => {
      for (let i = 0; i < n; i++) (m.get(ONE_KEY) as Uint32Array)[5]++;
    }, o);
  },
  'pair/panel-1': (o) => {
    const p = new Panel();
    return measureSync((n) => {
      for (let i = 0; i < n; i++) if (p.isAllowed(ONE_KEY)) p.succeed(ONE_KEY);
    }, o);
  },
  'pair/baseline-10k': (o) => {
    const m = baselineCounters(KEYS);
    return measureSync((n) => {
      for (let i = 0; i < n; i++) (m.get(KEYS[i % 10_000] as string) as Uint32Array)[5]++;
    }, o);
  },
  'pair/panel-10k': (o) => {
    const p = new Panel();
    for (const k of KEYS) p.isAllowed(k);
    return measureSync((n) => {
      for (let i = 0; i < n; i++) {
        const k = KEYS[i % 10_000] as string;
        if (p.isAllowed(k)) p.succeed(k);
      }
    }, o);
  },
  'pair/held-10k': (o) => {
    // What the gRPC adapters do: one lookup per call, then the held breaker.
    const p = new Panel();
    for (const k of KEYS) p.isAllowed(k);
    return measureSync((n) => {
      for (let i = 0; i < n; i++) {
        const b = p.getBreaker(KEYS[i % 10_000] as string);
        const permit = b.acquire();
        if (permit !== 0) b.succeed(undefined, permit);
      }
    }, o);
  },

  'execute/baseline': (o) =>
    measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += await ok();
    }, o),
  'execute/baseline-io': (o) =>
    measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += await yieldOnce();
    }, o),
  'execute/cbsuite-io': (o) => {
    const p = new Panel();
    return measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += await p.execute(ONE_KEY, yieldOnce);
    }, o);
  },
  'execute/cbsuite': (o) => {
    const p = new Panel();
    return measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += await p.execute(ONE_KEY, ok);
    }, o);
  },
  'execute/opossum': (o) => {
    const b = new CircuitBreaker(ok, { timeout: false });
    return measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += (await b.fire()) as number;
    }, o);
  },
  'execute/cockatiel': (o) => {
    const policy = circuitBreaker(handleAll, {
      halfOpenAfter: 5_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
    });
    return measureAsync(async (n) => {
      for (let i = 0; i < n; i++) sink += await policy.execute(ok);
    }, o);
  },

  'failures/baseline': (o) => awaitCaught(o, failTenth),
  'failures/cbsuite': (o) => {
    const p = new Panel({ shouldTrip: rateTripFunc(0.5, 200) });
    return awaitCaught(o, () => p.execute(ONE_KEY, failTenth));
  },
  'failures/opossum': (o) => {
    const b = new CircuitBreaker(failTenth, {});
    return awaitCaught(o, () => b.fire());
  },
  'failures/opossum-tuned': (o) => {
    const b = new CircuitBreaker(failTenth, {
      timeout: false,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    return awaitCaught(o, () => b.fire());
  },
  'failures/cockatiel': (o) => {
    const policy = circuitBreaker(handleAll, {
      halfOpenAfter: 5_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
    });
    return awaitCaught(o, () => policy.execute(failTenth));
  },
  'reject/baseline': (o) => {
    // Rejecting with an error made once: what a rejection costs with no breaker at all.
    const err = new Error('preallocated');
    return awaitCaught(o, () => Promise.reject(err));
  },
  'reject/floor': (o) => {
    // The least an awaited rejection costs: one rejected promise, already handled, awaited again and again.
    const shared = Promise.reject(new Error('preallocated'));
    shared.catch(noop);
    return awaitCaught(o, () => shared);
  },
  'reject/cbsuite-isAllowed': (o) => {
    const p = new Panel({ shouldTrip: () => true, coolingTimeoutMs: 3_600_000 });
    p.fail(ONE_KEY);
    return measureSync((n) => {
      for (let i = 0; i < n; i++) if (p.isAllowed(ONE_KEY)) sink++;
    }, o);
  },
  'reject/cbsuite': (o) => {
    const p = new Panel({ shouldTrip: () => true, coolingTimeoutMs: 3_600_000 });
    p.fail(ONE_KEY);
    return awaitCaught(o, () => p.execute(ONE_KEY, ok));
  },
  'reject/opossum': (o) => {
    const b = opossumTripped();
    return awaitCaught(o, () => b.fire());
  },
  'reject/cockatiel': async (o) => {
    const policy = circuitBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(1) });
    await policy.execute(() => Promise.reject(new Error('trip'))).catch(noop);
    return awaitCaught(o, () => policy.execute(ok));
  },
  'memory/cbsuite': (_o, smoke) => {
    const count = smoke ? 1_000 : 100_000;
    const keys = Array.from({ length: count }, (_, i) => `checkout/echo.v1.Echo/Method${i}`);
    const p = new Panel();
    const { bytesPerItem } = measureRetained(count, (i) => {
      p.succeed(keys[i] as string);
      return undefined;
    });
    sink += p.size;
    return bytesPerItem;
  },
  'memory/opossum': (_o, smoke) => {
    const count = smoke ? 500 : 10_000;
    const { bytesPerItem, keep } = measureRetained(count, () => new CircuitBreaker(ok, {}));
    for (const b of keep as CircuitBreaker[]) b.shutdown();
    return bytesPerItem;
  },
  'memory/cockatiel': async (_o, smoke) => {
    const count = smoke ? 500 : 10_000;
    const { bytesPerItem, keep } = measureRetained(count, () =>
      circuitBreaker(handleAll, {
        halfOpenAfter: 5_000,
        breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
      }),
    );
    sink += keep.length;
    return bytesPerItem;
  },
};

export function sinkValue(): number {
  return sink + calls;
}
