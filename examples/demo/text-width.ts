// Widths as a terminal shows them: a CJK character or an emoji takes two
// columns, a combining mark or a variation selector none, whatever the
// string's `.length` says.

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const WIDE =
  /^[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]$/u;

/** Columns one character (a code point) takes. */
export function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/** Columns `text` takes on a terminal (no escape codes in it). */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/** Fits `text` into `width` columns: cut with `…` or padded with spaces. */
export function clip(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const w = displayWidth(text);
  if (w > width) {
    if (width <= 0) return '';
    let out = '';
    let used = 0;
    for (const ch of text) {
      const cw = charWidth(ch);
      if (used + cw > width - 1) break;
      out += ch;
      used += cw;
    }
    return `${out}…${' '.repeat(width - 1 - used)}`;
  }
  const pad = ' '.repeat(width - w);
  return align === 'left' ? text + pad : pad + text;
}

/** Cuts a line to `width` columns as displayed, keeping its escape codes whole. */
export function cut(line: string, width: number): string {
  let visible = 0;
  let out = '';
  const chars = [...line];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '\x1b') {
      let j = i;
      while (j < chars.length && chars[j] !== 'm') j++;
      out += chars.slice(i, j + 1).join('');
      i = j;
      continue;
    }
    const cw = charWidth(ch);
    if (visible + cw > width) continue;
    out += ch;
    visible += cw;
  }
  return out;
}

/** Splits `parts` into lines of at most `width` columns, joined with `sep`; a part is never split. */
export function wrapParts(parts: readonly string[], sep: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const p of parts) {
    const next = line === '' ? p : `${line}${sep}${p}`;
    if (line !== '' && displayWidth(next) > width) {
      lines.push(`${line}${sep.trimEnd()}`);
      line = p;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines;
}
