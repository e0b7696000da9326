// Measurement helpers shared by every benchmark suite. Times are medians of
// several samples; each case runs in a fresh child process (see run-case.ts),
// so one library's JIT state cannot skew another's.

export interface MeasureOptions {
  /** Target duration of one sample, in ms. */
  readonly sampleMs: number;
  /** Samples per process. */
  readonly samples: number;
}

export const FULL: MeasureOptions = { sampleMs: 150, samples: 7 };
export const SMOKE: MeasureOptions = { sampleMs: 5, samples: 1 };

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const nowNs = () => process.hrtime.bigint();

/** Median ns per operation of `run(n)`, which performs n operations synchronously. */
export function measureSync(run: (n: number) => void, o: MeasureOptions): number {
  let n = 1_000;
  for (;;) {
    const t = nowNs();
    run(n);
    const ms = Number(nowNs() - t) / 1e6;
    if (ms >= o.sampleMs / 3 || n >= 1e9) break;
    n *= 4;
  }
  const target = n;
  const out: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    const t = nowNs();
    run(target);
    out.push(Number(nowNs() - t) / target);
  }
  return median(out);
}

/** Median ns per operation of `run(n)`, which performs n operations and resolves. */
export async function measureAsync(run: (n: number) => Promise<void>, o: MeasureOptions): Promise<number> {
  let n = 100;
  for (;;) {
    const t = nowNs();
    await run(n);
    const ms = Number(nowNs() - t) / 1e6;
    if (ms >= o.sampleMs / 3 || n >= 1e8) break;
    n *= 4;
  }
  const target = n;
  const out: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    const t = nowNs();
    await run(target);
    out.push(Number(nowNs() - t) / target);
  }
  return median(out);
}

/** Retained bytes per item: heap plus array buffers, after a full GC, over `count` items made by `make`. */
export function measureRetained(
  count: number,
  make: (i: number) => unknown,
): { bytesPerItem: number; keep: unknown[] } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const keep: unknown[] = new Array(count);
  gc();
  gc();
  const before = used();
  for (let i = 0; i < count; i++) keep[i] = make(i);
  gc();
  gc();
  const after = used();
  return { bytesPerItem: (after - before) / count, keep };
}

/** Formats a number of ns for a table. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 100) return `${ns.toFixed(0)} ns`;
  return `${ns.toFixed(1)} ns`;
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '';
  return r >= 100 ? `${r.toFixed(0)}×` : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

/** Renders rows as a Markdown table (also readable in a terminal). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  // The delimiter row as Biome formats it, so the written file passes the lint.
  const sep = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}
