// Checks what `npm pack` would publish for each package, as a registry user
// gets it: only the builds, README, CHANGELOG and LICENSE (no sources, tests,
// test support or fixtures); the root LICENSE; README links that work outside
// the repository; source maps that carry their sources; the repository,
// homepage, bugs and keywords fields. Prints each package's size.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const ALLOWED =
  /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/(esm|cjs)\/[\w./-]+\.(js|cjs|d\.ts|d\.cts|js\.map)|dist\/cjs\/package\.json)$/;
const FORBIDDEN = /(\.test\.|test-support|fixtures?\/|(^|\/)src\/|tsbuildinfo|tsconfig|typedoc)/;

const problems = [];
const rows = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  if (!existsSync(join(pkgDir, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const fail = (what) => problems.push(`${pkg.name}: ${what}`);

  const [packed] = JSON.parse(
    execFileSync(npm, ['pack', '--dry-run', '--json', '--loglevel=error'], { cwd: pkgDir, encoding: 'utf8' }),
  );
  const paths = packed.files.map((f) => f.path);
  for (const p of paths) {
    if (!ALLOWED.test(p) || FORBIDDEN.test(p)) fail(`packs ${p}`);
  }
  for (const must of ['LICENSE', 'README.md', 'CHANGELOG.md', 'dist/esm/index.js', 'dist/cjs/index.js']) {
    if (!paths.includes(must)) fail(`does not pack ${must}`);
  }
  if (paths.includes('LICENSE') && readFileSync(join(pkgDir, 'LICENSE'), 'utf8') !== license) {
    fail('LICENSE differs from the repository LICENSE');
  }

  // Links must work on the registry's page: absolute, or anchors in the README itself.
  const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)[^)]*\)/g)) {
    if (!/^(https:\/\/|#)/.test(target)) fail(`README links to ${target}, which is not shipped`);
  }

  for (const p of paths.filter((f) => f.endsWith('.js.map'))) {
    const map = JSON.parse(readFileSync(join(pkgDir, p), 'utf8'));
    const content = map.sourcesContent ?? [];
    if (map.sources.length === 0 || map.sources.some((_s, i) => typeof content[i] !== 'string')) {
      fail(`${p} points at sources it does not carry (no sourcesContent)`);
    }
  }

  const repo = pkg.repository ?? {};
  if (pkg.license !== 'Apache-2.0') fail(`license is ${pkg.license}`);
  if (!/^git\+https:\/\/github\.com\/.+\.git$/.test(repo.url ?? '')) fail('repository.url is missing');
  if (repo.directory !== `packages/${dir}`) fail(`repository.directory is ${repo.directory}, not packages/${dir}`);
  if (!pkg.homepage?.startsWith('https://')) fail('homepage is missing');
  if (!pkg.bugs?.url?.startsWith('https://')) fail('bugs.url is missing');
  if (!Array.isArray(pkg.keywords) || pkg.keywords.length === 0) fail('keywords are missing');

  rows.push([pkg.name, paths.length, packed.size, packed.unpackedSize]);
}

const kB = (n) => `${(n / 1024).toFixed(1)} kB`;
console.log('package                     files  packed     unpacked');
for (const [name, files, size, unpacked] of rows) {
  console.log(`${name.padEnd(28)}${String(files).padStart(5)}  ${kB(size).padStart(9)}  ${kB(unpacked).padStart(9)}`);
}
if (problems.length > 0) {
  console.error(`\n${problems.join('\n')}`);
  process.exit(1);
}
