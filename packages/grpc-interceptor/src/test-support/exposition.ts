// A checker of the Prometheus text exposition format (0.0.4) and of the
// naming conventions promtool's linter enforces, for scrapes made by the
// tests. It returns every problem found, so a test asserts an empty list.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | undefined;
  type: string | undefined;
  readonly samples: ParsedSample[];
}

/** Parses `{a="x",b="y"}` (with escapes) starting at `i`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number, problems: string[]): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) {
      problems.push(`no "=" in the labels of: ${line}`);
      return [labels, line.length];
    }
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__'))
      problems.push(`bad label name ${JSON.stringify(name)}: ${line}`);
    if (line[eq + 1] !== '"') problems.push(`label ${name} is not quoted: ${line}`);
    let j = eq + 2;
    let v = '';
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        const next = line[++j];
        if (next === 'n') v += '\n';
        else if (next === '\\' || next === '"') v += next;
        else problems.push(`bad escape \\${next} in: ${line}`);
      } else v += line[j];
    }
    if (name in labels) problems.push(`label ${name} twice in: ${line}`);
    labels[name] = v;
    i = j + 1;
    if (line[i] === ',') i++;
  }
  return [labels, i + 1];
}

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  if (s === 'NaN') return Number.NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : Number.NaN;
}

/** The family a sample belongs to: its name less a histogram's or summary's suffix. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f?.type === 'histogram' || f?.type === 'summary') return f;
    }
  }
  return undefined;
}

/** Parses a scrape into families; `problems` gets every breach of the format found on the way. */
export function parseExposition(text: string, problems: string[]): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const family = (name: string) => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, help: undefined, type: undefined, samples: [] };
      families.set(name, f);
    } else if (f !== current) problems.push(`${name}: its lines are not together`);
    current = f;
    return f;
  };
  if (text.length > 0 && !text.endsWith('\n')) problems.push('the scrape does not end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC_NAME.test(name)) problems.push(`bad metric name ${JSON.stringify(name)}`);
      const f = family(name);
      if (f.samples.length > 0) problems.push(`${name}: # ${kind} after its samples`);
      if (kind === 'HELP') {
        if (f.help !== undefined) problems.push(`${name}: HELP twice`);
        f.help = rest;
      } else {
        if (f.type !== undefined) problems.push(`${name}: TYPE twice`);
        if (!TYPES.has(rest)) problems.push(`${name}: unknown TYPE ${rest}`);
        f.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) problems.push(`bad metric name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (line[nameEnd] === '{') [labels, rest] = parseLabels(line, nameEnd, problems);
    const parts = line.slice(rest).trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2) problems.push(`bad sample line: ${line}`);
    const value = parseValue(parts[0] ?? '');
    if (Number.isNaN(value) && parts[0] !== 'NaN') problems.push(`bad value ${parts[0]} in: ${line}`);
    const f = familyOf(name, families);
    if (f === undefined) {
      problems.push(`${name}: a sample with no # TYPE before it`);
      continue;
    }
    if (f !== current) problems.push(`${f.name}: its lines are not together`);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) problems.push(`duplicate series: ${line}`);
    seen.add(id);
    f.samples.push({ name, labels, value });
  }
  return families;
}

/**
 * Every problem of a scrape: the format's rules (HELP and TYPE once, before
 * the samples; names and labels well formed; no duplicate series; histogram
 * buckets cumulative up to `le="+Inf"`, which equals `_count`, with `_sum`)
 * and promtool's naming lint (counters end in `_total` and only counters do,
 * snake case, base units).
 */
export function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  const families = parseExposition(text, problems);
  for (const f of families.values()) {
    if (f.help === undefined || f.help === '') problems.push(`${f.name}: no HELP`);
    if (f.type === undefined) problems.push(`${f.name}: no TYPE`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: a counter not ending in _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: a ${f.type} ending in _total`);
    if (/[A-Z]/.test(f.name)) problems.push(`${f.name}: not snake case`);
    if (/_(milliseconds|microseconds|ms)(_|$)/.test(f.name)) problems.push(`${f.name}: not in base units`);
    for (const s of f.samples) {
      if (f.type === 'counter' && !(s.value >= 0)) problems.push(`${s.name}: a counter at ${s.value}`);
      for (const l of Object.keys(s.labels)) if (/[A-Z]/.test(l)) problems.push(`${s.name}: label ${l} not snake case`);
    }
    if (f.type === 'histogram') problems.push(...histogramProblems(f));
  }
  return problems;
}

function histogramProblems(f: Family): string[] {
  const problems: string[] = [];
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(id);
    if (g === undefined) {
      g = { buckets: [] };
      groups.set(id, g);
    }
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) problems.push(`${f.name}_bucket without le: ${id}`);
      else g.buckets.push([parseValue(le), s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else problems.push(`${s.name}: not a histogram series of ${f.name}`);
  }
  for (const [id, g] of groups) {
    const sorted = [...g.buckets].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as [number, number];
      const cur = sorted[i] as [number, number];
      if (cur[0] === prev[0]) problems.push(`${f.name} ${id}: le=${cur[0]} twice`);
      if (cur[1] < prev[1]) problems.push(`${f.name} ${id}: bucket le=${cur[0]} below le=${prev[0]}`);
    }
    const inf = sorted.at(-1);
    if (inf === undefined || inf[0] !== Number.POSITIVE_INFINITY) problems.push(`${f.name} ${id}: no le="+Inf"`);
    else if (g.count !== inf[1]) problems.push(`${f.name} ${id}: _count ${g.count} is not le="+Inf" ${inf[1]}`);
    if (g.sum === undefined) problems.push(`${f.name} ${id}: no _sum`);
    if (g.count === undefined) problems.push(`${f.name} ${id}: no _count`);
  }
  return problems;
}
