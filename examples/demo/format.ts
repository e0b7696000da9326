import type { Behaviour } from '@cbsuite/testkit/behaviour.js';
import type { ShedReasonName, StateName } from '@cbsuite/testkit/node-stats.js';

/** `14.0s` */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** `34.8%` */
export function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

/** `12,345` */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `1.2 ms` */
export function ms(x: number): string {
  return `${x.toFixed(1)} ms`;
}

/** `1 time`, `2 times`; `1 attempt was`, `3 attempts were` with the plural given. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${int(n)} ${n === 1 ? one : many}`;
}

/** `a`, `a and b`, `a, b and c` */
export function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** A narration line: the time since the run began, right-aligned, then the text. */
export function logLine(atMs: number, text: string): string {
  return `${secs(atMs).padStart(7)}  ${text}`;
}

const CODES = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;
export type Style = keyof typeof CODES;

/** Wraps `text` in an ANSI style, or returns it as is when colour is off. */
export function paint(text: string, style: Style, colour: boolean): string {
  return colour ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text;
}

/** The colour of a breaker state: CLOSED green, HALFOPEN yellow, OPEN red. */
export function stateStyle(state: StateName): Style {
  return state === 'CLOSED' ? 'green' : state === 'OPEN' ? 'red' : 'yellow';
}

/** `healthy, 15 ms` or `35% INTERNAL, 80 ms`. */
export function describeBehaviour(b: Behaviour): string {
  const health = b.failRate > 0 ? `${Math.round(b.failRate * 100)}% ${b.code}` : 'healthy';
  return b.delayMs > 0 ? `${health}, ${b.delayMs} ms` : health;
}

/** Why a call was shed, in the order the views list them. */
export const SHED_REASONS: readonly ShedReasonName[] = ['latency', 'adaptive', 'concurrency'];

/** Calls shed in all, over every reason. */
export function shedTotal(shed: Readonly<Partial<Record<ShedReasonName, number>>> | undefined): number {
  return SHED_REASONS.reduce((n, r) => n + (shed?.[r] ?? 0), 0);
}

/** `0`, `12 latency` or `14: latency 12, concurrency 2`: calls shed and why. */
export function shedText(shed: Readonly<Partial<Record<ShedReasonName, number>>> | undefined): string {
  const parts = SHED_REASONS.filter((r) => (shed?.[r] ?? 0) > 0).map((r) => [r, shed?.[r] ?? 0] as const);
  if (parts.length === 0) return '0';
  if (parts.length === 1) return `${int(parts[0]?.[1] ?? 0)} ${parts[0]?.[0]}`;
  return `${int(shedTotal(shed))}: ${parts.map(([r, n]) => `${r} ${int(n)}`).join(', ')}`;
}
