import type { StateName } from '@cbsuite/testkit/node-stats.js';
import { int, logLine, paint, pct, type Style, secs, shedText, shedTotal, stateStyle } from './format.js';
import { RateMeter, sum } from './rates.js';
import type { WorldSnapshot } from './snapshot.js';
import { type Cell, type Column, table } from './table.js';
import { cut, wrapParts } from './text-width.js';
import type { Narration, View } from './view.js';

/** How to draw: the terminal's width and whether to colour. */
export interface DrawOptions {
  readonly width: number;
  readonly colour: boolean;
}

const state = (s: StateName): Cell => ({ text: s, style: stateStyle(s) });
const windowText = (w: { errorRate: number; samples: number }) => `${pct(w.errorRate)} of ${int(w.samples)}`;

/**
 * The block the live view redraws: the run's progress and counts, a row per
 * service key of each node, and a row per instance (with several nodes, each
 * node's state and the counts of all). An instance's failures are those in
 * its breaker's window: attempts that failed on it (connections included).
 *
 * Everything fits `width` columns as displayed. On a narrow terminal the
 * tables drop their least important columns first (retries, calls, answers,
 * then failures and rejections, which the counters line also shows) and clip
 * long keys; the state, WINDOW ERR%, TRIPS AT and SKIPS, which explain a
 * trip, always stay. The counters line wraps instead of being cut.
 */
export function renderLive(world: WorldSnapshot, callsPerSec: number, o: DrawOptions): string[] {
  const many = world.nodes.length > 1;
  const node: Column[] = many ? [{ title: 'NODE', max: 10, align: 'left', min: 6 }] : [];
  const c = sum(world.nodes.map((n) => n.counters));
  const inFlight = world.nodes.reduce((a, n) => a + n.inFlight, 0);
  const barWidth = Math.max(10, Math.min(30, o.width - 50));
  const done = Math.min(1, world.atMs / world.durationMs);
  const filled = Math.round(done * barWidth);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
  const nodes = `${world.nodes.length} client node${many ? 's' : ''}`;

  // The SHED column and count appear once a node has shed a call (serviceShedding): not otherwise.
  const sheds = world.nodes.some((n) => n.services.some((s) => s.shed !== undefined));
  const shed = world.nodes.reduce((a, n) => a + n.services.reduce((b, s) => b + shedTotal(s.shed), 0), 0);
  const services = table(
    [
      ...node,
      { title: 'SERVICE KEY', max: 40, align: 'left', min: 14 },
      { title: 'STATE', max: 8, align: 'left' },
      { title: 'CALLS', max: 9, align: 'right', drop: 2 },
      { title: 'FAILED', max: 8, align: 'right', drop: 3 },
      { title: 'REJECTED', max: 8, align: 'right', drop: 4 },
      ...(sheds ? [{ title: 'SHED', max: 36, align: 'right', drop: 5 } as const] : []),
      { title: 'RETRIED', max: 7, align: 'right', drop: 1 },
      { title: 'WINDOW ERR%', max: 16, align: 'right' },
      { title: 'TRIPS AT', max: 8, align: 'right' },
    ],
    world.nodes.flatMap((n) =>
      n.services.map((s) => [
        ...(many ? [n.node] : []),
        s.key,
        state(s.state),
        int(s.calls),
        int(s.failed),
        int(s.rejected),
        ...(sheds ? [shedText(s.shed)] : []),
        int(s.retried),
        windowText(s.window),
        pct(s.threshold, 0),
      ]),
    ),
    o.width,
    o.colour,
  );
  const instances = instanceTable(world, o);
  const counters = wrapParts(
    [
      `${int(callsPerSec)} calls/s`,
      `${inFlight} in flight`,
      `ok ${int(c.ok)}`,
      `failed ${int(c.failed)}`,
      `rejected ${int(c.rejectedService)} service / ${int(c.rejectedInstance)} instance`,
      ...(sheds ? [`shed ${int(shed)}`] : []),
      `retried ${int(c.retries)}`,
      `skips ${int(c.skips)}`,
    ],
    ' · ',
    o.width,
  );
  const lines = [
    paint(`cbsuite demo · ${nodes} · ${world.processes.length} instances`, 'bold', o.colour),
    `${paint(bar, 'cyan', o.colour)} ${secs(world.atMs)} / ${secs(world.durationMs)}   phase: ${paint(world.phase, 'bold', o.colour)}`,
    ...counters,
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

// A row per instance: with one node, its breaker's state and window; with several, each node's state and the
// nodes' counts summed.
function instanceTable(world: WorldSnapshot, o: DrawOptions): string[] {
  const many = world.nodes.length > 1;
  const addresses = [...new Set(world.nodes.flatMap((n) => n.instances.map((i) => i.address)))];
  const states: Column[] = many
    ? world.nodes.map((n) => ({ title: n.node, max: 10, align: 'left', min: 8 }))
    : [{ title: 'STATE', max: 8, align: 'left' }];
  return table(
    [
      { title: 'INSTANCE', max: 21, align: 'left' },
      { title: 'PROCESS', max: 26, align: 'left', min: 8 },
      ...states,
      { title: 'ANSWERED', max: 9, align: 'right', drop: 1 },
      { title: 'FAILED', max: 8, align: 'right', drop: 2 },
      ...(many ? [] : [{ title: 'WINDOW ERR%', max: 16, align: 'right' } as const]),
      { title: 'SKIPS', max: 7, align: 'right' },
    ],
    addresses.map((address): Row => {
      const views = world.nodes.map((n) => n.instances.find((i) => i.address === address));
      const total = (f: (i: NonNullable<(typeof views)[number]>) => number) =>
        int(views.reduce((a, i) => a + (i === undefined ? 0 : f(i)), 0));
      const windowCell = many || views[0] === undefined ? [] : [windowText(views[0].window)];
      return [
        address,
        processCell(world, address),
        ...views.map((i) => (i === undefined ? '' : state(i.state))),
        total((i) => i.answered),
        total((i) => i.window.failures),
        ...windowCell,
        total((i) => i.skips),
      ];
    }),
    o.width,
    o.colour,
  );
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
