import { clip, int, logLine, paint, pct, type Style, secs, stateStyle } from './format.js';
import { RateMeter, sum } from './rates.js';
import type { StateName, WorldSnapshot } from './snapshot.js';
import type { Narration, View } from './view.js';

/** How to draw: the terminal's width and whether to colour. */
export interface DrawOptions {
  readonly width: number;
  readonly colour: boolean;
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly align: 'left' | 'right';
}

type Cell = string | { readonly text: string; readonly style: Style };

function table(columns: readonly Column[], rows: readonly (readonly Cell[])[], o: DrawOptions): string[] {
  const line = (cells: readonly Cell[], header: boolean) =>
    cells
      .map((cell, i) => {
        const c = columns[i] as Column;
        const text = typeof cell === 'string' ? cell : cell.text;
        const padded = clip(text, c.width, c.align);
        if (header) return paint(padded, 'dim', o.colour);
        return typeof cell === 'string' ? padded : paint(padded, cell.style, o.colour);
      })
      .join(' ')
      .trimEnd();
  return [
    line(
      columns.map((c) => c.title),
      true,
    ),
    ...rows.map((r) => line(r, false)),
  ];
}

const state = (s: StateName): Cell => ({ text: s, style: stateStyle(s) });
const windowText = (w: { errorRate: number; samples: number }) => `${pct(w.errorRate)} of ${int(w.samples)}`;

/**
 * The block the live view redraws: the run's progress, the client's call
 * rate and outcomes, then a row per service key (for each client node) with
 * its breaker's state, calls, failures, error rate, rejections and retries,
 * and a row per instance with its breaker's state, answers, failures and
 * skips: with one node, its window too; with several, each node's state and
 * the counts of all. An instance's failures are those in its breaker's
 * window: attempts that failed on it (connections included). Lines are cut
 * to `width`.
 */
export function renderLive(world: WorldSnapshot, callsPerSec: number, o: DrawOptions): string[] {
  const many = world.nodes.length > 1;
  const node: Column[] = many ? [{ title: 'NODE', width: 8, align: 'left' }] : [];
  const c = sum(world.nodes.map((n) => n.counters));
  const inFlight = world.nodes.reduce((a, n) => a + n.inFlight, 0);
  const barWidth = 30;
  const done = Math.min(1, world.atMs / world.durationMs);
  const filled = Math.round(done * barWidth);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
  const nodes = `${world.nodes.length} client node${many ? 's' : ''}`;

  const services = table(
    [
      ...node,
      { title: 'SERVICE KEY', width: 30, align: 'left' },
      { title: 'STATE', width: 8, align: 'left' },
      { title: 'CALLS', width: 8, align: 'right' },
      { title: 'FAILED', width: 7, align: 'right' },
      { title: 'REJECTED', width: 8, align: 'right' },
      { title: 'RETRIED', width: 7, align: 'right' },
      { title: 'WINDOW ERR%', width: 16, align: 'right' },
      { title: 'TRIPS AT', width: 8, align: 'right' },
    ],
    world.nodes.flatMap((n) =>
      n.services.map((s) => [
        ...(many ? [n.node] : []),
        s.key,
        state(s.state),
        int(s.calls),
        int(s.failed),
        int(s.rejected),
        int(s.retried),
        windowText(s.window),
        pct(s.threshold, 0),
      ]),
    ),
    o,
  );
  const instances = many ? instancesByNode(world, o) : instancesOfOne(world, o);
  const lines = [
    paint(`cbsuite demo · ${nodes} · ${world.processes.length} instances`, 'bold', o.colour),
    `${paint(bar, 'cyan', o.colour)} ${secs(world.atMs)} / ${secs(world.durationMs)}   phase: ${paint(world.phase, 'bold', o.colour)}`,
    `${int(callsPerSec)} calls/s · ${inFlight} in flight · ok ${int(c.ok)} · failed ${int(c.failed)} · ` +
      `rejected ${int(c.rejectedService)} service / ${int(c.rejectedInstance)} instance · retried ${int(c.retries)} · ` +
      `skips ${int(c.skips)}`,
    '',
    ...services,
    '',
    ...instances,
  ];
  return lines.map((l) => cut(l, o.width));
}

type Row = readonly Cell[];

function processCell(world: WorldSnapshot, address: string): Cell {
  const p = world.processes.find((x) => x.address === address);
  if (p === undefined) return '';
  return p.up ? `up, ${p.behaviour}` : { text: 'DOWN', style: 'red' };
}

// One node: a row per instance, with its breaker's window.
function instancesOfOne(world: WorldSnapshot, o: DrawOptions): string[] {
  return table(
    [
      { title: 'INSTANCE', width: 21, align: 'left' },
      { title: 'PROCESS', width: 26, align: 'left' },
      { title: 'STATE', width: 8, align: 'left' },
      { title: 'ANSWERED', width: 8, align: 'right' },
      { title: 'FAILED', width: 7, align: 'right' },
      { title: 'WINDOW ERR%', width: 16, align: 'right' },
      { title: 'SKIPS', width: 7, align: 'right' },
    ],
    world.nodes.flatMap((n) =>
      n.instances.map(
        (i): Row => [
          i.address,
          processCell(world, i.address),
          state(i.state),
          int(i.answered),
          int(i.window.failures),
          windowText(i.window),
          int(i.skips),
        ],
      ),
    ),
    o,
  );
}

// Several nodes: a row per instance, with each node's breaker state, and the nodes' counts summed.
function instancesByNode(world: WorldSnapshot, o: DrawOptions): string[] {
  const addresses = [...new Set(world.nodes.flatMap((n) => n.instances.map((i) => i.address)))];
  const nodeColumns: Column[] = world.nodes.map((n) => ({
    title: n.node,
    width: Math.max(8, n.node.length),
    align: 'left',
  }));
  return table(
    [
      { title: 'INSTANCE', width: 21, align: 'left' },
      { title: 'PROCESS', width: 26, align: 'left' },
      ...nodeColumns,
      { title: 'ANSWERED', width: 8, align: 'right' },
      { title: 'FAILED', width: 7, align: 'right' },
      { title: 'SKIPS', width: 7, align: 'right' },
    ],
    addresses.map((address): Row => {
      const views = world.nodes.map((n) => n.instances.find((i) => i.address === address));
      const total = (f: (i: NonNullable<(typeof views)[number]>) => number) =>
        int(views.reduce((a, i) => a + (i === undefined ? 0 : f(i)), 0));
      return [
        address,
        processCell(world, address),
        ...views.map((i) => (i === undefined ? '' : state(i.state))),
        total((i) => i.answered),
        total((i) => i.window.failures),
        total((i) => i.skips),
      ];
    }),
    o,
  );
}

/** Cuts a line to `width` visible columns, keeping its escape codes whole. */
export function cut(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width) continue;
    out += line[i];
    visible++;
  }
  return out;
}

/**
 * The view on a terminal: narration scrolls above a block redrawn in place
 * (cursor up, clear to the end of the screen).
 */
export class LiveView implements View {
  private readonly meter = new RateMeter();
  private drawn = 0;
  private world: WorldSnapshot | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly colour: boolean,
  ) {
    out.write('\x1b[?25l');
  }

  narrate(n: Narration): void {
    const style: Style = n.kind === 'step' ? 'bold' : n.state ? stateStyle(n.state) : 'dim';
    const text = logLine(n.atMs, paint(n.text, style, this.colour));
    this.draw(`${text}\n`);
  }

  update(world: WorldSnapshot): void {
    this.world = world;
    this.meter.push(world.atMs, sum(world.nodes.map((n) => n.counters)));
    this.draw('');
  }

  stop(world: WorldSnapshot): void {
    this.update(world);
    this.drawn = 0;
    this.out.write('\x1b[?25h');
  }

  private draw(above: string): void {
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\r\x1b[J` : '';
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max(40, (this.out.columns || 120) - 1);
    const block = this.world ? renderLive(this.world, this.meter.callsPerSecond(), { width, colour: this.colour }) : [];
    this.drawn = block.length;
    this.out.write(`${clear}${above}${block.map((l) => `${l}\n`).join('')}`);
  }
}
