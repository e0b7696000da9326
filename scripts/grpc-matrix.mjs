// Runs the grpc-interceptor tests against other grpc-js releases than the
// installed one: by default the oldest the peer range allows and the newest
// 1.x on the registry, so that a release that changes the experimental
// load-balancing API fails here first. Each release is installed with npm on
// its own under .cbsuite-tmp/grpc-js/<version>, and vitest aliases
// @grpc/grpc-js to it (vitest.grpc-matrix.config.ts).
//
//   node scripts/grpc-matrix.mjs [oldest|newest|<version>|<major.minor>]...
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const peer = require('../packages/grpc-interceptor/package.json').peerDependencies['@grpc/grpc-js'];
const installed = require('../packages/grpc-interceptor/node_modules/@grpc/grpc-js/package.json').version;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Versions on the registry that satisfy `range`, oldest first. */
function versions(range) {
  const out = execFileSync(npm, ['view', `@grpc/grpc-js@${range}`, 'version', '--json'], { encoding: 'utf8' });
  const list = [JSON.parse(out)].flat().filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  if (list.length === 0) throw new Error(`no @grpc/grpc-js release matches ${range}`);
  const parts = (v) => v.split('.').map(Number);
  return list.sort((a, b) => {
    const [x, y] = [parts(a), parts(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
}

function resolve(wanted) {
  if (wanted === 'oldest') return versions(peer)[0];
  if (wanted === 'newest') return versions(peer).at(-1);
  if (/^\d+\.\d+$/.test(wanted)) return versions(`~${wanted}.0`).at(-1);
  return wanted;
}

function install(version) {
  const dir = join(root, '.cbsuite-tmp', 'grpc-js', version);
  const pkg = join(dir, 'node_modules', '@grpc', 'grpc-js', 'package.json');
  if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === version) return dirOf(pkg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
  execFileSync(
    npm,
    [
      'install',
      '--prefix',
      dir,
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--loglevel=error',
      `@grpc/grpc-js@${version}`,
    ],
    { stdio: 'inherit' },
  );
  return dirOf(pkg);
}

const dirOf = (pkg) => join(pkg, '..');

const asked = process.argv.slice(2);
const targets = [...new Set((asked.length > 0 ? asked : ['oldest', 'newest']).map(resolve))];
let failed = false;
for (const version of targets) {
  if (version === installed) {
    console.log(`\n== @grpc/grpc-js ${version}: the installed one, which pnpm test covers`);
    continue;
  }
  console.log(`\n== @grpc/grpc-js ${version}`);
  const dir = install(version);
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--config',
      'vitest.grpc-matrix.config.ts',
      'packages/grpc-interceptor/',
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, CBSUITE_GRPC_JS_DIR: dir, CBSUITE_GRPC_JS_VERSION: version },
    },
  );
  if (r.status !== 0) {
    console.error(`the grpc-interceptor tests fail on @grpc/grpc-js ${version}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
