// The live view's tables: columns as wide as their content, and when the
// terminal is narrower than that, the least important columns dropped first,
// then the flexible ones clipped, so the columns that explain a trip stay.
import { paint, type Style } from './format.js';
import { clip, displayWidth } from './text-width.js';

export interface Column {
  readonly title: string;
  /** Most columns it takes; it is as wide as its title and widest cell, up to this. */
  readonly max: number;
  readonly align: 'left' | 'right';
  /** When the table is too wide, columns with the lowest `drop` go first; without it, never. */
  readonly drop?: number;
  /** When the table is still too wide, its cells are clipped (with `…`) down to this many columns. */
  readonly min?: number;
}

export type Cell = string | { readonly text: string; readonly style: Style };

const textOf = (cell: Cell | undefined) => (cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text);

/** Renders a header and `rows` within `width` columns as displayed. */
export function table(
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
  width: number,
  colour: boolean,
): string[] {
  let cols = columns.map((c, i) => ({
    c,
    i,
    w: Math.min(c.max, Math.max(displayWidth(c.title), ...rows.map((r) => displayWidth(textOf(r[i]))))),
  }));
  const total = () => cols.reduce((a, x) => a + x.w, 0) + cols.length - 1;
  while (total() > width) {
    const droppable = cols.filter((x) => x.c.drop !== undefined);
    if (droppable.length === 0) break;
    const first = droppable.reduce((a, b) => ((b.c.drop as number) < (a.c.drop as number) ? b : a));
    cols = cols.filter((x) => x !== first);
  }
  for (const x of cols) {
    const over = total() - width;
    if (over <= 0) break;
    if (x.c.min !== undefined) x.w = Math.max(x.c.min, x.w - over);
  }
  const line = (cells: readonly Cell[], header: boolean) =>
    cols
      .map((x) => {
        const cell = cells[x.i];
        const padded = clip(textOf(cell), x.w, x.c.align);
        if (header) return paint(padded, 'dim', colour);
        return cell === undefined || typeof cell === 'string' ? padded : paint(padded, cell.style, colour);
      })
      .join(' ')
      .trimEnd();
  const titles = columns.map((c) => c.title);
  return [line(titles, true), ...rows.map((r) => line(r, false))];
}
