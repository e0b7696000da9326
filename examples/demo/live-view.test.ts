import { describe, expect, it } from 'vitest';
import { LiveView, renderLive } from './live-view.js';
import type { WorldSnapshot } from './snapshot.js';
import { A, B, KEY, node, world } from './test-worlds.js';
import { clip, cut, displayWidth } from './text-width.js';

/** `s` without its escape codes. */
const strip = (s: string) =>
  s
    .split('\x1b[')
    .map((part, i) => (i === 0 ? part : part.replace(/^[0-9;?]*[A-Za-z]/, '')))
    .join('');

describe('renderLive', () => {
  const w = world({
    atMs: 21_400,
    counters: { calls: 4210, ok: 3890, failed: 312, rejectedService: 5, retries: 7, skips: 122 },
    service: 'HALFOPEN',
    instances: { [B]: 'OPEN' },
    down: [B],
  });

  it('shows progress, the call rate, and a row per service key and per instance', () => {
    const lines = renderLive(w, 201, { width: 200, colour: false });
    expect(lines[0]).toBe('cbsuite demo · 1 client node · 2 instances');
    expect(lines[1]).toBe(`${'█'.repeat(30)} 21.4s / 20.0s   phase: steady load`);
    expect(lines[2]).toBe(
      '201 calls/s · 3 in flight · ok 3,890 · failed 312 · rejected 5 service / 0 instance · retried 7 · skips 122',
    );
    const text = lines.join('\n');
    expect(text).toMatch(new RegExp(`${KEY} +HALFOPEN +4,210 +312 +5 +7 +5\\.0% of 400 +50%`));
    expect(text).toMatch(new RegExp(`${A} +up, healthy, 15 ms +CLOSED +1,945 +0 +0\\.0% of 200 +0`));
    expect(text).toMatch(new RegExp(`${B} +DOWN +OPEN +1,945 +0 +0\\.0% of 200 +122`));
  });

  it('once the node sheds calls: a SHED column with the count and the reason, and the total on the counters line', () => {
    const shedding = world({
      atMs: 5_000,
      counters: { calls: 300, ok: 260, rejectedService: 40 },
      shed: { latency: 30, concurrency: 8 },
    });
    const lines = renderLive(shedding, 60, { width: 200, colour: false });
    expect(lines[2]).toBe(
      '60 calls/s · 3 in flight · ok 260 · failed 0 · rejected 40 service / 0 instance · shed 38 · retried 0 · skips 0',
    );
    expect(lines.join('\n')).toMatch(/ +SHED +RETRIED/);
    expect(lines.join('\n')).toMatch(
      new RegExp(`${KEY} +CLOSED +300 +0 +40 +38: latency 30, concurrency 8 +0 +5\\.0% of 400`),
    );
    const one = renderLive(world({ atMs: 5_000, shed: { adaptive: 3 } }), 0, { width: 200, colour: false });
    expect(one.join('\n')).toMatch(/ 3 adaptive /);
    // Without shedding, no column: the view is as it always was.
    expect(renderLive(w, 201, { width: 200, colour: false }).join('\n')).not.toContain('SHED');
  });

  it('draws a full progress bar at the end and an empty one at the start', () => {
    const bar = (atMs: number) => renderLive({ ...w, atMs }, 0, { width: 200, colour: false })[1]?.slice(0, 30);
    expect(bar(0)).toBe('░'.repeat(30));
    expect(bar(10_000)).toBe(`${'█'.repeat(15)}${'░'.repeat(15)}`);
    expect(bar(25_000)).toBe('█'.repeat(30));
  });

  it('colours states only when asked, and cuts lines to the width', () => {
    const plain = renderLive(w, 201, { width: 60, colour: false });
    expect(plain.join('')).not.toContain('\x1b');
    expect(Math.max(...plain.map((l) => l.length))).toBeLessThanOrEqual(60);
    const coloured = renderLive(w, 201, { width: 60, colour: true });
    expect(coloured.join('')).toContain('\x1b[33mHALFOPEN');
    expect(coloured.join('')).toContain('\x1b[31mOPEN');
    expect(coloured.map(strip)).toEqual(plain);
  });

  it('with several nodes: a row per node for the service key, and per instance the state on each node and the sums', () => {
    const two = {
      ...w,
      nodes: [
        node({ atMs: 0, node: 'client-1', counters: { calls: 100, ok: 90, skips: 4 }, instances: { [B]: 'HALFOPEN' } }),
        node({ atMs: 0, node: 'client-2', counters: { calls: 50, ok: 40, skips: 6 }, service: 'OPEN' }),
      ],
    };
    const lines = renderLive(two, 0, { width: 200, colour: false });
    expect(lines[0]).toBe('cbsuite demo · 2 client nodes · 2 instances');
    expect(lines.filter((l) => l.startsWith('client-2 '))).toHaveLength(1);
    const text = lines.join('\n');
    expect(text).toMatch(new RegExp(`^client-1 +${KEY} +CLOSED +100 `, 'm'));
    expect(text).toMatch(new RegExp(`^client-2 +${KEY} +OPEN +50 `, 'm'));
    expect(text).toMatch(/^INSTANCE +PROCESS +client-1 +client-2 +ANSWERED +FAILED +SKIPS$/m);
    expect(text).toMatch(new RegExp(`^${A} +up, healthy, 15 ms +CLOSED +CLOSED +65 +0 +0$`, 'm'));
    expect(text).toMatch(new RegExp(`^${B} +DOWN +HALFOPEN +CLOSED +65 +0 +10$`, 'm'));
  });
});

describe('renderLive on an 80-column terminal', () => {
  // LiveView draws one column short of the terminal, so that no line ends on its last column.
  const WIDTH = 79;
  const busy = (n: number): WorldSnapshot => {
    const base = world({ atMs: 61_300, service: 'OPEN', instances: { [B]: 'HALFOPEN' }, down: [B] });
    return {
      ...base,
      phase: 'threshold lowered',
      processes: base.processes.map((p) => ({ ...p, behaviour: '35% INTERNAL, 80 ms' })),
      nodes: Array.from({ length: n }, (_, i) =>
        node({
          atMs: 0,
          node: `client-${i + 1}`,
          counters: { calls: 123_456, ok: 100_000, failed: 12_345, rejectedService: 11_111, retries: 1234, skips: 987 },
          service: 'OPEN',
          threshold: 0.25,
          instances: { [B]: 'HALFOPEN' },
        }),
      ),
    };
  };

  it.each([1, 4])('with %i client node(s): every line fits; the window, TRIPS AT and SKIPS stay whole', (nodes) => {
    const lines = renderLive(busy(nodes), 1234, { width: WIDTH, colour: false });
    for (const l of lines) expect(displayWidth(l), l).toBeLessThanOrEqual(WIDTH);
    const text = lines.join('\n');
    expect(text).toMatch(/WINDOW ERR% TRIPS AT$/m);
    expect(text).toMatch(new RegExp(`${KEY.replace(/\./g, '\\.')} +OPEN .* 5\\.0% of 400 +25%$`, 'm'));
    expect(text).toMatch(/ SKIPS$/m);
    expect(text).toMatch(new RegExp(`^${B} .* ${(987 * nodes).toLocaleString('en-US')}$`, 'm'));
    expect(text).toContain(`retried ${(1234 * nodes).toLocaleString('en-US')}`); // the line wraps, uncut
    expect(text).toContain(`skips ${(987 * nodes).toLocaleString('en-US')}`);
  });

  it('drops the least important columns first: retries and answers, then calls and failures', () => {
    const wide = renderLive(busy(1), 0, { width: 200, colour: false }).join('\n');
    const narrow = renderLive(busy(1), 0, { width: WIDTH, colour: false }).join('\n');
    expect(wide).toMatch(/CALLS +FAILED REJECTED RETRIED WINDOW ERR%/);
    expect(wide).toMatch(/ANSWERED FAILED WINDOW ERR% SKIPS/);
    expect(narrow).not.toMatch(/RETRIED|ANSWERED/);
    expect(narrow).toMatch(/STATE +CALLS FAILED REJECTED WINDOW ERR% TRIPS AT$/m);
    expect(narrow).toMatch(/STATE +FAILED WINDOW ERR% SKIPS$/m);
    const narrower = renderLive(busy(1), 0, { width: 70, colour: false }).join('\n');
    expect(narrower).toMatch(/STATE +REJECTED WINDOW ERR% TRIPS AT$/m);
    expect(narrower).toMatch(/STATE +WINDOW ERR% SKIPS$/m);
  });

  it('measures width as displayed: a key of wide characters is clipped to fit, not by its length', () => {
    const w = busy(1);
    const key = 'checkout/回声服务.v1.回声/说你好呀朋友们大家好';
    const wide = { ...w, nodes: w.nodes.map((n) => ({ ...n, services: n.services.map((s) => ({ ...s, key })) })) };
    const lines = renderLive(wide, 0, { width: WIDTH, colour: true });
    for (const l of lines) expect(displayWidth(strip(l)), strip(l)).toBeLessThanOrEqual(WIDTH);
    expect(lines.map(strip).join('\n')).toMatch(/checkout\/回声.*… +OPEN/);
  });

  it('LiveView on an 80-column terminal writes no line longer than 80 columns', () => {
    let written = '';
    const out = {
      columns: 80,
      write: (s: string) => {
        written += s;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const view = new LiveView(out, true);
    view.update(busy(4));
    view.stop(busy(4));
    const lines = strip(written).split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(80);
  });
});

describe('text width', () => {
  it.each([
    ['abc', 3],
    ['回声', 4],
    ['👍', 2],
    ['e\u0301', 1],
    ['█░·…', 4],
  ])('%j takes %i columns', (text, width) => {
    expect(displayWidth(text)).toBe(width);
  });

  it('cut counts visible columns only and keeps escape codes whole', () => {
    expect(cut('abcdef', 4)).toBe('abcd');
    expect(cut('\x1b[31mabcdef\x1b[0m', 3)).toBe('\x1b[31mabc\x1b[0m');
    expect(cut('回声服务', 5)).toBe('回声');
  });

  it('clip fits text to columns as displayed', () => {
    expect(clip('回声服务', 5)).toBe('回声…');
    expect(displayWidth(clip('回声服务', 6))).toBe(6);
    expect(clip('回声', 6, 'right')).toBe('  回声');
  });
});

describe('LiveView', () => {
  it('redraws its block in place, with narration scrolling above it', () => {
    let written = '';
    const write = (s: string) => {
      written += s;
      return true;
    };
    const out = { columns: 200, write } as unknown as NodeJS.WriteStream;
    const view = new LiveView(out, false);
    view.update(world({ atMs: 200 }));
    const block = renderLive(world({ atMs: 200 }), 0, { width: 199, colour: false }).length;
    view.narrate({ atMs: 300, kind: 'step', text: 'something happened' });
    view.stop(world({ atMs: 400 }));
    const frames = written.split(`\x1b[${block}A\r\x1b[J`);
    expect(frames).toHaveLength(3);
    expect(frames[0]?.startsWith('\x1b[?25l')).toBe(true);
    expect(frames[1]?.startsWith('   0.3s  something happened\ncbsuite demo')).toBe(true);
    expect(frames[2]).toContain('0.4s / 20.0s');
    expect(written.endsWith('\x1b[?25h')).toBe(true);
  });
});
