// `pnpm bench`: runs every case of every suite in fresh child processes, then
// prints one table per group with medians and ratios against the baseline and
// the peers measured in the same run. `--smoke` runs each case once, briefly,
// to prove the benchmarks still work. `--suite name` runs one suite, `--case id`
// one case of it (nothing is written to results/ then). `--update` with
// either puts what they measured in place of those cases' figures in
// results/latest.json and writes BENCHMARKS.md again, naming the cases rerun.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from './harness.js';
import { render, SMOKE_NOTICE } from './render.js';
import { type Suite, suites } from './suites.js';

const run = promisify(execFile);
const smoke = process.argv.includes('--smoke');
const only = process.argv.includes('--suite') ? process.argv[process.argv.indexOf('--suite') + 1] : undefined;
// `--case id` runs only that case of the suite(s) chosen (its table rows then show only its figures).
const onlyCase = process.argv.includes('--case') ? process.argv[process.argv.indexOf('--case') + 1] : undefined;
const update = process.argv.includes('--update');
if (update && (smoke || (only === undefined && onlyCase === undefined)))
  throw new Error('--update goes with --suite or --case, and not with --smoke: a full run writes everything anyway');
const processes = smoke ? 1 : Number(process.env.BENCH_PROCESSES ?? 3);
const caseScript = fileURLToPath(new URL('./run-case.ts', import.meta.url));
// Cases and the server processes they start load @cbsuite/* from dist/ (see bench/tsconfig.json).
const env = { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) };

/** Runs a case in `processes` fresh processes; returns the median of each figure it reports. */
async function runCase(suite: string, id: string, times: number): Promise<Map<string, number>> {
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < times; i++) {
    const args = ['--expose-gc', '--import', 'tsx', caseScript, suite, id, ...(smoke ? ['--smoke'] : [])];
    const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024, timeout: 600_000, env });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const { value } = JSON.parse(last) as { value: number | Record<string, number | null> };
    // JSON writes Infinity (a case's "never within the run") as null.
    const figures = Object.fromEntries(
      Object.entries(typeof value === 'number' ? { '': value } : value).map(([k, v]) => [
        k,
        v === null ? Number.POSITIVE_INFINITY : v,
      ]),
    );
    for (const [k, v] of Object.entries(figures)) {
      if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${suite}/${id} returned ${last} (${k})`);
    }
    runs.push(figures);
  }
  const out = new Map<string, number>();
  for (const k of Object.keys(runs[0] ?? {})) {
    out.set(k === '' ? id : `${id}.${k}`, median(runs.map((r) => r[k] as number)));
  }
  return out;
}

/** The figures of one case, or undefined when it failed (then its reason is in `failures`). */
async function measure(name: string, id: string, times: number): Promise<Map<string, number> | undefined> {
  const t0 = Date.now();
  try {
    const figures = await runCase(name, id, times);
    const took = ((Date.now() - t0) / 1000).toFixed(1);
    process.stderr.write(
      `  ${name}/${id} ... ${[...figures.values()].map((v) => v.toFixed(1)).join(' ')} (${took} s)\n`,
    );
    return figures;
  } catch (err) {
    // One broken case must not lose the figures of every other: its rows say n/a, and the run fails at the end.
    const reason = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '');
    failures.push(`${name}/${id}: ${reason ?? 'failed'}`);
    process.stderr.write(`  ${name}/${id} ... failed: ${reason}\n`);
    return undefined;
  }
}

const started = Date.now();
if (smoke) console.log(SMOKE_NOTICE);
const raw: Record<string, Record<string, number>> = {};
const failures: string[] = [];
const chosen = Object.entries(suites).filter(([name]) => only === undefined || only === name);
const jobs = chosen.flatMap(([name, suite]) =>
  Object.keys(suite.cases)
    .filter((id) => onlyCase === undefined || onlyCase === id)
    .map((id) => ({ name, id, times: suite.processes ?? processes })),
);
const figuresOf = new Map<string, Map<string, number> | undefined>();
// Measurements run one at a time, so no case takes CPU from another. A smoke
// run measures nothing: its cases (each on its own ports, Redis keys and
// Redis servers) run `BENCH_SMOKE_LANES` at a time, 3 by default: a case
// waits on timers and child processes for part of its time, and on two cores
// 3 lanes took 170 s where 2 took 200 s.
const lanes = smoke ? Math.max(1, Number(process.env.BENCH_SMOKE_LANES ?? 3)) : 1;
let next = 0;
await Promise.all(
  Array.from({ length: lanes }, async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      figuresOf.set(`${job.name}/${job.id}`, await measure(job.name, job.id, job.times));
    }
  }),
);
for (const [name, suite] of chosen) {
  const results = new Map<string, number>();
  for (const id of Object.keys(suite.cases))
    for (const [k, v] of figuresOf.get(`${name}/${id}`) ?? []) results.set(k, v);
  raw[name] = Object.fromEntries(results);
  console.log(`\n${suiteText(suite, results, smoke)}\n`);
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
const seconds = Math.round((Date.now() - started) / 1000);
console.log(
  smoke
    ? `smoke run done: every case ran once, briefly (${seconds} s); the figures above are not measurements, run pnpm bench for those`
    : `machine: ${machine}; ${processes} process(es) per case unless a suite says otherwise; ${seconds} s`,
);

/** One suite's heading and tables. */
function suiteText(suite: Suite, figures: Map<string, number>, smoke: boolean): string {
  const title = smoke ? `## ${suite.title} (smoke run)` : `## ${suite.title}`;
  return [title, ...suite.groups.map((g) => render(g, figures, smoke))].join('\n\n');
}

/** What results/latest.json holds: the last full run, and the cases rerun since with `--update`. */
interface Results {
  date: string;
  machine: string;
  processes: number;
  seconds?: number;
  raw: Record<string, Record<string, number>>;
  reruns?: { date: string; suite: string; case: string; machine: string; seconds: number }[];
}

const resultsFile = fileURLToPath(new URL('../results/latest.json', import.meta.url));
if (!smoke && only === undefined && onlyCase === undefined) {
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  const results: Results = { date: new Date().toISOString(), machine, processes, seconds, raw };
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results);
} else if (update && failures.length === 0) {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Results;
  const date = new Date().toISOString();
  for (const job of jobs) {
    const old = results.raw[job.name] ?? {};
    const kept = Object.entries(old).filter(([k]) => k !== job.id && !k.startsWith(`${job.id}.`));
    results.raw[job.name] = {
      ...Object.fromEntries(kept),
      ...Object.fromEntries(figuresOf.get(`${job.name}/${job.id}`) ?? []),
    };
    results.reruns = [
      ...(results.reruns ?? []).filter((r) => r.suite !== job.name || r.case !== job.id),
      { date, suite: job.name, case: job.id, machine, seconds },
    ];
  }
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results);
}

/** Writes BENCHMARKS.md from `results`: every suite's tables, and which cases were rerun after the full run. */
function writeReport(results: Results): void {
  const tables = Object.entries(suites).map(([name, suite]) =>
    suiteText(suite, new Map(Object.entries(results.raw[name] ?? {})), false),
  );
  const reruns = results.reruns ?? [];
  const md = [
    '# Benchmarks',
    '',
    'Written by `pnpm bench` (every suite; `pnpm bench -- --suite core|grpc|fleet` runs one and leaves this file alone).',
    'Every figure is a median; every ratio is against a baseline or a peer measured in the same run, on the same machine.',
    "Cases run in fresh child processes, so one library's JIT state cannot skew another's.",
    '',
    `- **Date:** ${results.date.slice(0, 10)}`,
    `- **Machine:** ${results.machine}`,
    `- **Command:** \`pnpm bench\` (${results.processes} processes per case unless a table says otherwise${results.seconds === undefined ? '' : `; ${results.seconds} s in all`})`,
    '- **Peers:** opossum 10.0.0, cockatiel 4.0.0, @grpc/grpc-js 1.14.7, Redis 7.',
    ...(reruns.length === 0
      ? []
      : [
          '- **Cases rerun after that run** (`pnpm bench -- --update --suite <suite> --case <case>`; their rows are from the rerun):',
          ...reruns.map((r) => `  - \`${r.suite}/${r.case}\` on ${r.date.slice(0, 10)} (${r.machine})`),
        ]),
    ...(failures.length === 0
      ? []
      : ['- **Cases that failed (their rows say n/a):**', ...failures.map((f) => `  - ${f}`)]),
    '',
    tables.join('\n\n'),
    '',
  ].join('\n');
  writeFileSync(fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)), md);
  console.log('wrote BENCHMARKS.md');
}
if (failures.length > 0) {
  console.error(`${failures.length} case(s) failed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
  process.exitCode = 1;
}
