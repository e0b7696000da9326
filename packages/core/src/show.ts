// How a value a user passed appears in an error message: as they would have
// written it in code (5n, NaN, -Infinity, { errRate: NaN }), short.

const MAX_CHARS = 80;
const MAX_ITEMS = 8;
const MAX_DEPTH = 2;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Formats a received value for an error message, as code would write it. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = literal(value, 0);
  } catch {
    s = 'an object';
  }
  return s.length > MAX_CHARS && typeof value !== 'string' ? `${s.slice(0, MAX_CHARS)}…` : s;
}

function literal(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > MAX_CHARS ? `${v.slice(0, MAX_CHARS)}…` : v);
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint':
      return `${v}n`;
    case 'symbol':
      return v.toString();
    case 'function':
      return 'a function';
    case 'boolean':
    case 'undefined':
      return String(v);
  }
  if (v === null) return 'null';
  const o = v as object;
  if (Array.isArray(o)) {
    if (depth >= MAX_DEPTH) return '[…]';
    const items = o.slice(0, MAX_ITEMS).map((item) => literal(item, depth + 1));
    if (o.length > MAX_ITEMS) items.push('…');
    return `[${items.join(', ')}]`;
  }
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) {
    const name = (o as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  const keys = Object.keys(o);
  if (keys.length === 0) return '{}';
  if (depth >= MAX_DEPTH) return '{…}';
  const fields = keys
    .slice(0, MAX_ITEMS)
    .map(
      (k) => `${IDENTIFIER.test(k) ? k : JSON.stringify(k)}: ${literal((o as Record<string, unknown>)[k], depth + 1)}`,
    );
  if (keys.length > MAX_ITEMS) fields.push('…');
  return `{ ${fields.join(', ')} }`;
}
