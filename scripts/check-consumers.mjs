// Installs the packed packages into the fresh projects of consumers/ (CJS,
// ESM, TypeScript with node16, nodenext and bundler resolution) and runs
// them: each typechecks, and each runnable one makes a call through both
// levels against a real grpc-js server on 127.0.0.1:0. Run after `pnpm
// build`. Only the npm registry is reached, for the third-party packages.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pnpm = process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm';
const work = mkdtempSync(join(tmpdir(), 'cbsuite-consumers-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'inherit' });

let ok = false;
try {
  // The tarballs, as `pnpm publish` would make them (workspace: ranges resolved).
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const ours = new Map();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const pkgFile = join(root, 'packages', dir, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    if (pkg.private) continue;
    execFileSync(pnpm, ['pack', '--pack-destination', tarballs], { cwd: join(root, 'packages', dir), stdio: 'ignore' });
    ours.set(pkg.name, pkg.version);
  }

  const app = join(work, 'app');
  cpSync(join(root, 'consumers'), app, { recursive: true });
  cpSync(join(root, 'proto', 'echo.proto'), join(app, 'echo.proto'));
  for (const ts of ['ts-node16', 'ts-nodenext', 'ts-bundler'])
    cpSync(join(app, 'ts', 'main.ts'), join(app, ts, 'main.ts'));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  run(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', ...files], app);

  // Every @cbsuite package must be the one packed here, once: none fetched from the registry.
  const found = execFileSync(npm, ['ls', '--all', '--parseable', '--loglevel=error'], { cwd: app, encoding: 'utf8' })
    .split('\n')
    .filter((p) => /node_modules\/@cbsuite\//.test(p));
  for (const [name, version] of ours) {
    const copies = found.filter((p) => p.endsWith(`node_modules/${name}`));
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8'));
    if (copies.length !== 1 || installed.version !== version) {
      throw new Error(`${name}: expected one copy of ${version}, found ${copies.join(', ')}`);
    }
  }

  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, ['cjs/main.cjs'], app);
  run(process.execPath, ['esm/main.mjs'], app);
  for (const ts of ['ts-node16', 'ts-nodenext']) {
    run(process.execPath, [tsc, '-p', ts], app);
    run(process.execPath, [join(ts, 'out', 'main.js'), ts], app);
  }
  run(process.execPath, [tsc, '-p', 'ts-bundler'], app);
  console.log('ts-bundler: typechecks');
  ok = true;
} finally {
  if (ok) rmSync(work, { recursive: true, force: true });
  else console.error(`left for inspection: ${work}`);
}
