import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { fleetQuickRun, quickRun } from './fixtures/quick-run.js';
import { renderReport } from './report.js';
import type { Timeline } from './timeline.js';

// Where the report test looks for a browser: CHROMIUM_PATH, then where Debian's and Ubuntu's packages put one.
const CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
].filter((p): p is string => p !== undefined && p !== '');

/** The browser to open the report in; a missing one fails the test with what to install, never skips it. */
function chromiumPath(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found !== undefined) return found;
  throw new Error(
    `this test opens the demo's report in a headless Chromium and found none (looked at ${CANDIDATES.join(', ')}). ` +
      'Install it (Debian/Ubuntu: apt-get install chromium, as CI does), or set CHROMIUM_PATH to a Chromium or Chrome binary.',
  );
}
// No network here: without these flags Chromium stalls on background requests.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Writes the report of `t` to a temporary file and opens it in Chromium; collects page errors and any fetch. */
async function openReport(t: Timeline): Promise<{ page: Page; errors: string[]; fetched: string[] }> {
  const executablePath = chromiumPath();
  const dir = await mkdtemp(join(tmpdir(), 'cbsuite-report-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'report.html');
  await writeFile(file, renderReport(t));

  const browser = await chromium.launch({ executablePath, args: ARGS });
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const fetched: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) fetched.push(r.url());
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors, fetched };
}

describe('the HTML report', () => {
  it('renders a recorded run in a real browser: bands, lines, markers, no errors, nothing fetched', async () => {
    // Second 7 without answers leaves second 8 alone on the error line, between two gaps.
    const run = quickRun();
    const t = {
      ...run,
      seconds: run.seconds.map((s, i) => (i === 7 ? { ...s, counts: { ...s.counts, ok: 0, failed: 0 } } : s)),
    };
    const { page, errors, fetched } = await openReport(t);

    const chart = page.locator('svg.timeline-chart');
    expect(await chart.count()).toBe(1);
    const box = await chart.boundingBox();
    expect(box?.width).toBeGreaterThan(1000);
    expect(box?.height).toBeGreaterThan(250);
    expect(await page.locator('g.band').count()).toBe(t.services.length + t.instances.length);
    for (const state of ['CLOSED', 'OPEN', 'HALFOPEN']) {
      expect(await page.locator(`rect.band-segment[data-state="${state}"]`).count()).toBeGreaterThan(0);
    }
    expect(await page.locator('rect.down-span').count()).toBe(1);
    for (const cls of ['line-calls', 'line-error', 'line-window', 'line-threshold']) {
      const line = page.locator(`path.${cls}`);
      expect(await line.count()).toBe(1);
      expect((await line.boundingBox())?.width).toBeGreaterThan(500);
    }
    // Every piece of every line has a length the browser draws (a bare "M x,y" has none).
    const pieces = (await page.evaluate(`[...document.querySelectorAll('svg.timeline-chart path')].flatMap((p) =>
      (p.getAttribute('d') || '').split(/(?=M)/).map((d) => {
        const one = document.createElementNS('http://www.w3.org/2000/svg', 'path');
        one.setAttribute('d', d);
        p.parentNode.appendChild(one);
        const length = one.getTotalLength();
        one.remove();
        return length;
      }))`)) as number[];
    expect(pieces.length).toBeGreaterThan(4);
    expect(Math.min(...pieces)).toBeGreaterThan(0);
    expect(await page.locator('g.marker').count()).toBe(t.steps.length);
    expect(await page.locator('ol.steps li').count()).toBe(t.steps.length);
    expect(await page.locator('h1').textContent()).toBe(t.title);

    // The readout follows the pointer over the chart.
    const area = await page.locator('rect.hover-area').boundingBox();
    expect(area).not.toBeNull();
    if (area) await page.mouse.move(area.x + area.width * 0.62, area.y + area.height / 2);
    expect(await page.locator('.readout').textContent()).toMatch(/^\d+\.\ds · \d+ calls\/s · failed \d+/);

    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    expect(shot.length).toBeGreaterThan(50_000);
    expect(errors).toEqual([]);
    expect(fetched).toEqual([]);
  });

  it('renders a recorded fleet run: the fleet chart node by node, a chart per node, the waves and probe episodes', async () => {
    const t = fleetQuickRun();
    const { page, errors, fetched } = await openReport(t);

    expect(await page.locator('h1').textContent()).toBe(t.title);
    expect(await page.locator('p.meta').first().textContent()).toMatch(
      /^fleet mode · .* · 4 client nodes · 3 instances$/,
    );
    expect(await page.locator('svg.timeline-chart').count()).toBe(4);
    for (const node of t.nodes) {
      expect(await page.locator(`svg.timeline-chart[data-node="${node}"] g.band`).count()).toBe(4);
    }

    // The fleet chart: per key, a band per node; the service opened on every node, and only the probers were HALFOPEN.
    const fleet = page.locator('svg.fleet-chart');
    expect((await fleet.boundingBox())?.width).toBeGreaterThan(1000);
    expect(await fleet.locator('g.fleet-group').count()).toBe(t.services.length + t.instances.length);
    expect(await fleet.locator('g.band').count()).toBe(4 * (t.services.length + t.instances.length));
    const band = (node: string, state: string) =>
      fleet.locator(`g.fleet-group[data-level="service"] g.band[data-node="${node}"] rect[data-state="${state}"]`);
    for (const node of t.nodes) expect(await band(node, 'OPEN').count()).toBe(2);
    expect(await band('client-1', 'HALFOPEN').count()).toBe(0);
    expect(await band('client-2', 'HALFOPEN').count()).toBe(0);
    expect(await band('client-3', 'HALFOPEN').count()).toBe(1);
    expect(await band('client-4', 'HALFOPEN').count()).toBe(1);
    expect(await fleet.locator('rect.down-span').count()).toBe(4);
    expect(await fleet.locator('g.marker').count()).toBe(t.steps.length);

    // The waves of opens and closes, and the probe episodes, one node probing each.
    const tables = page.locator('h2:text("The fleet") ~ table');
    expect(await tables.nth(0).locator('tbody tr').count()).toBe(6);
    expect(await tables.nth(1).locator('tbody tr').count()).toBe(3);
    expect(await tables.nth(1).locator('tbody tr td:nth-child(4)').allTextContents()).toEqual(['1', '1', '1']);
    expect(await page.locator('.fleet-cards .card b').allTextContents()).toEqual(['4 of 4', '23.3 ms', '1']);

    // The readouts follow the pointer: the time over the fleet chart, a node's numbers over its chart.
    const readout = async (i: number) => {
      const area = page.locator('rect.hover-area').nth(i);
      await area.scrollIntoViewIfNeeded();
      const box = await area.boundingBox();
      if (box) await page.mouse.move(box.x + box.width * 0.62, box.y + box.height / 2);
      return page.locator('.readout').nth(i).textContent();
    };
    expect(await readout(0)).toMatch(/^\d+\.\ds$/);
    expect(await readout(3)).toMatch(/^\d+\.\ds · \d+ calls\/s · failed \d+/);

    const shot = await page.screenshot({ fullPage: true });
    expect(shot.length).toBeGreaterThan(100_000);
    expect(errors).toEqual([]);
    expect(fetched).toEqual([]);
  });
});

describe('the report text', () => {
  const cards = (t: Timeline) =>
    [...renderReport(t).matchAll(/<div class="card"><b>([^<]*)<\/b><span>([^<]*)<\/span>/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );

  it('lists the calls shed per key and reason when a node shed some, and has no such section otherwise', () => {
    const run = quickRun();
    expect(renderReport(run)).not.toContain('Calls shed');
    const last = run.seconds[run.seconds.length - 1];
    if (last === undefined) throw new Error('the fixture has no seconds');
    const [key, sample] = Object.entries(last.services)[0] ?? [];
    if (key === undefined || sample === undefined) throw new Error('the fixture has no service key');
    const shedding: Timeline = {
      ...run,
      seconds: [
        ...run.seconds.slice(0, -1),
        { ...last, services: { ...last.services, [key]: { ...sample, shed: { latency: 12, adaptive: 3 } } } },
      ],
    };
    const html = renderReport(shedding);
    expect(html).toContain('<h2>Calls shed</h2>');
    expect(html).toContain(
      `<tr><td>${key}</td><td class="n">15</td><td class="n">12</td><td class="n">3</td><td class="n">0</td></tr>`,
    );
  });

  it('counts every entry into OPEN, in good grammar', () => {
    const run = quickRun();
    expect(cards(run)).toContain('2 times the service breaker opened');
    expect(cards(run)).toContain('1 time an instance breaker opened');
    expect(cards(fleetQuickRun())).toContain('8 service breaker openings, all nodes');
  });
});
