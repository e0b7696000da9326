// The structure rules of the packages' sources (tests aside): no import
// circles, counting type-only imports too, and no file over 400 lines (a file
// that long has more than one job). Prints each breach and exits 1.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 400;

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules' && name !== 'dist') out.push(...sources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = readdirSync(join(root, 'packages')).flatMap((pkg) => {
  const src = join(root, 'packages', pkg, 'src');
  try {
    return sources(src);
  } catch {
    return [];
  }
});
const known = new Set(files);
const edges = new Map();
const breaches = [];

for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) breaches.push(`${relative(root, f)}: ${lines} lines (more than ${MAX_LINES})`);
  const deps = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    const target = resolve(dirname(f), m[1].replace(/\.js$/, '.ts'));
    if (known.has(target)) deps.push(target);
  }
  edges.set(f, deps);
}

// Tarjan's strongly connected components: each with more than one file (or
// a file importing itself) is a circle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function visit(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || edges.get(v).includes(v)) {
      breaches.push(`import circle: ${scc.map((s) => relative(root, s)).join(' <-> ')}`);
    }
  }
}
for (const f of files) if (!idx.has(f)) visit(f);

if (breaches.length > 0) {
  for (const b of breaches) console.error(b);
  process.exit(1);
}
console.log(`${files.length} source files: no import circles, none over ${MAX_LINES} lines`);
