// Loads every built package and each entry point of its `exports` map, as
// ESM and as CJS, and checks that both builds expose the same names and that
// the error guards recognise errors from the other build (what a duplicate
// install looks like).

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = new URL('../packages/', import.meta.url);
let failed = false;

for (const dir of readdirSync(root)) {
  if (!existsSync(new URL(`${dir}/package.json`, root))) continue;
  const pkg = require(`../packages/${dir}/package.json`);
  if (pkg.private) continue;
  const esm = await import(new URL(`${dir}/dist/esm/index.js`, root).href);
  const cjs = require(`../packages/${dir}/dist/cjs/index.js`);
  const a = Object.keys(esm).sort().join(',');
  const b = Object.keys(cjs).sort().join(',');
  if (a !== b) {
    console.error(`${pkg.name}: ESM and CJS exports differ\n  esm: ${a}\n  cjs: ${b}`);
    failed = true;
  } else {
    console.log(`${pkg.name}: ${Object.keys(esm).length} exports, ESM and CJS agree`);
  }
  // Every other entry point of the exports map, the same way.
  for (const [entry, target] of Object.entries(pkg.exports ?? {})) {
    if (entry === '.' || typeof target !== 'object' || target.import === undefined) continue;
    const sub = await import(new URL(`${dir}/${target.import.default}`, root).href);
    const subCjs = require(`../packages/${dir}/${target.require.default}`);
    const x = Object.keys(sub).sort().join(',');
    const y = Object.keys(subCjs).sort().join(',');
    if (x !== y) {
      console.error(`${pkg.name}/${entry.slice(2)}: ESM and CJS exports differ\n  esm: ${x}\n  cjs: ${y}`);
      failed = true;
    } else {
      console.log(`${pkg.name}/${entry.slice(2)}: ${Object.keys(sub).length} exports, ESM and CJS agree`);
    }
    if (sub.MissingPeerError !== undefined && !subCjs.isMissingPeerError(new sub.MissingPeerError('p', '1', 'e'))) {
      console.error(`${pkg.name}/${entry.slice(2)}: the CJS guard does not recognise an ESM MissingPeerError`);
      failed = true;
    }
  }
  if (dir === 'core') {
    const fromEsm = new esm.Breaker({ shouldTrip: () => true });
    fromEsm.fail();
    const err = fromEsm.rejectionError();
    if (!cjs.isCircuitBreakerError(err) || !(err instanceof cjs.CircuitBreakerError)) {
      console.error('@cbsuite/core: the CJS guard does not recognise an ESM CircuitBreakerError');
      failed = true;
    } else {
      console.log('@cbsuite/core: error guards work across the ESM and CJS copies');
    }
  }
}
process.exit(failed ? 1 : 0);
