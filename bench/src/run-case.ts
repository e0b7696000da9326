// Child-process entry: runs one case and prints its number as JSON on the
// last line of stdout. Usage: run-case.ts <suite> <case> [--smoke]
import { coreCases, sinkValue } from './core-cases.js';
import { FULL, SMOKE } from './harness.js';
import { suites } from './suites.js';

const [suiteName, caseName] = process.argv.slice(2);
const smoke = process.argv.includes('--smoke');
const suite = suites[suiteName as string];
const run = suite?.cases[caseName as string];
if (run === undefined) {
  console.error(`unknown case ${suiteName}/${caseName}`);
  process.exit(2);
}
const value = await run(smoke ? SMOKE : FULL, smoke);
process.stdout.write(`${JSON.stringify({ value, sink: sinkValue() > -1 && coreCases !== undefined })}\n`);
// Child processes and sockets a case leaves behind must not keep it alive.
process.exit(0);
