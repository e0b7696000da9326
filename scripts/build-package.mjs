// Builds the package in the current directory twice from the same sources:
// ESM into dist/esm, CJS into dist/cjs (stamped {"type":"commonjs"}), each
// with .d.ts files. Hand-written CommonJS sources (src/*.cjs with their
// src/*.d.cts, which tsc reads but does not emit) are copied into both. Run
// by each package's `build` script.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (...args) =>
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
run();
run('--module', 'commonjs', '--moduleResolution', 'node10', '--verbatimModuleSyntax', 'false', '--outDir', 'dist/cjs');
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
for (const f of readdirSync('src')) {
  if (!f.endsWith('.cjs') && !f.endsWith('.d.cts')) continue;
  for (const out of ['dist/esm', 'dist/cjs']) copyFileSync(`src/${f}`, `${out}/${f}`);
}
