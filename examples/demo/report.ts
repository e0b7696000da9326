import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { esc, legendHtml, MIN_ANSWERED, renderChart, renderFleetChart } from './chart.js';
import type { FleetFacts } from './fleet-facts.js';
import { int, list, ms, pct, plural, SHED_REASONS, secs, shedTotal } from './format.js';
import { ended, rejected } from './rates.js';
import { phaseCounts, SAVED_EXPLAINED, summarize } from './summary.js';
import type { Timeline } from './timeline.js';

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0; background: #fff; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.meta { color: #57606a; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px; flex: 1 1 0; min-width: 140px; }
.card b { display: block; font-size: 22px; }
.card span { color: #57606a; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { color: #57606a; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: 600; }
.state.CLOSED { color: #1a7f37; } .state.OPEN { color: #cf222e; } .state.HALFOPEN { color: #9a6700; }
.chart { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; position: relative; }
.chart svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
.chart svg .axis { fill: #57606a; }
.chart svg .axis-title { font-weight: 600; }
.chart svg .marker-label { fill: #fff; font-weight: 700; font-size: 10px; }
.chart svg .down-label { fill: #fff; font-weight: 600; }
.chart svg .phase-label { fill: #57606a; }
.readout { min-height: 20px; color: #1f2328; font-size: 12px; padding: 4px 2px 0; font-variant-numeric: tabular-nums; }
.legend { font-size: 12px; color: #57606a; margin: 6px 2px 0; }
.swatch { display: inline-flex; align-items: center; gap: 5px; margin-right: 14px; white-space: nowrap; }
.swatch i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; }
.swatch b { display: inline-block; width: 18px; height: 0; }
ol.steps li { margin: 3px 0; }
ol.steps .t { color: #57606a; font-variant-numeric: tabular-nums; margin-right: 6px; }
footer { color: #57606a; font-size: 12px; margin-top: 32px; }
`;

// Hover readout: the chart's time under the pointer, and that second's sample of the node.
const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var pc = function (x) { return (x * 100).toFixed(1) + '%'; };
  document.querySelectorAll('.chart').forEach(function (box) {
    var svg = box.querySelector('svg');
    var area = svg.querySelector('.hover-area');
    var cursor = svg.querySelector('.cursor');
    var readout = box.querySelector('.readout');
    var node = svg.getAttribute('data-node');
    var left = Number(area.getAttribute('data-left'));
    var width = Number(area.getAttribute('data-width'));
    var duration = Number(area.getAttribute('data-duration'));
    var samples = data.seconds.filter(function (s) { return s.node === node && s.ms > 0; });
    area.addEventListener('mousemove', function (ev) {
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      var t = Math.max(0, Math.min(duration, ((p.x - left) / width) * duration));
      cursor.setAttribute('x1', p.x); cursor.setAttribute('x2', p.x); cursor.setAttribute('visibility', 'visible');
      var s = samples.find(function (x) { return x.atMs >= t; }) || samples[samples.length - 1];
      if (!s) { readout.textContent = (t / 1000).toFixed(1) + 's'; return; }
      var c = s.counts, answered = c.ok + c.failed;
      var error = answered >= ${MIN_ANSWERED} ? 'error ' + pc(c.failed / answered) : 'error: ' + answered + ' answered, too few to tell';
      var parts = [(t / 1000).toFixed(1) + 's', Math.round(c.calls * 1000 / s.ms) + ' calls/s',
        'failed ' + c.failed, 'rejected ' + (c.rejectedService + c.rejectedInstance), 'retried ' + c.retries,
        error];
      Object.keys(s.services).forEach(function (k) {
        var v = s.services[k];
        parts.push(k + ' ' + v.state + ' (window ' + pc(v.errorRate) + ', trips at ' + pc(v.threshold) + ')');
      });
      Object.keys(s.instances).forEach(function (k) {
        parts.push(k + ' ' + s.instances[k].state + (s.instances[k].up ? '' : ' (down)'));
      });
      readout.textContent = parts.join(' · ');
    });
    area.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      readout.textContent = '';
    });
  });
})();
`;

const card = (value: string, label: string) => `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;

/** A card of the entries into OPEN (trips and reopenings: the OPEN spans on the bands), in good grammar. */
function opensCard(n: number, level: 'service' | 'instance', many: boolean): string {
  const one = n === 1;
  if (many) return card(int(n), `${level} breaker opening${one ? '' : 's'}, all nodes`);
  const who = level === 'service' ? 'the service breaker' : 'an instance breaker';
  return card(int(n), `${one ? 'time' : 'times'} ${who} opened`);
}

/** Fleet mode: the fleet's cards, and its section (each wave of opens or closes, each probe episode). */
function fleetHtml(t: Timeline, f: FleetFacts): { cards: string; section: string } {
  const all = f.nodes.length;
  const opens = f.waves.filter((w) => w.level === 'service' && w.to === 'OPEN');
  const probes = f.probes.filter((p) => p.level === 'service');
  const cards: string[] = [];
  if (opens.length > 0) {
    const fewest = Math.min(...opens.map((w) => w.own.length + w.remote.length));
    cards.push(
      card(`${fewest} of ${all}`, 'nodes the service breaker opened on, together, each time'),
      card(ms(Math.max(...opens.map((w) => w.spreadMs))), 'from the first node open to the last'),
    );
  }
  if (probes.length > 0) {
    const most = Math.max(...probes.map((p) => p.probers.length));
    cards.push(
      card(String(most), `node${most > 1 ? 's' : ''} probing per half-open episode (${probes.length} episodes)`),
    );
  }
  const cardsHtml = cards.length === 0 ? '' : `<div class="cards fleet-cards">\n${cards.join('\n')}\n</div>\n`;
  const waves = f.waves
    .map(
      (w) =>
        `<tr><td class="n">${secs(w.startMs)}</td><td>${esc(`${w.level} ${w.key}`)}</td>` +
        `<td><span class="state ${w.to}">${w.to}</span></td><td class="n">${w.own.length + w.remote.length} of ${all}</td>` +
        `<td class="n">${ms(w.spreadMs)}</td><td>${esc(list(w.own))}</td><td>${esc(list(w.remote))}</td></tr>`,
    )
    .join('');
  const episodes = f.probes
    .map(
      (p) =>
        `<tr><td class="n">${secs(p.startMs)}</td><td class="n">${secs(p.endMs)}</td><td>${esc(`${p.level} ${p.key}`)}</td>` +
        `<td class="n">${p.probers.length}</td><td>${esc(list(p.probers))}</td><td>${p.outcome}</td></tr>`,
    )
    .join('');
  const section = `<h2>The fleet</h2>
<p class="meta">${all} client nodes, each a process, share their breakers through Redis. A trip on one node opens the key on every node (cause remote); after cooling, only the holder of the fleet's probe lease goes HALFOPEN, and its probes' result closes or reopens every node. Below, each breaker node by node.</p>
<div class="chart">${renderFleetChart(t)}<div class="readout"></div><div class="legend">${legendHtml(false)}</div></div>
<table><thead><tr><th>time</th><th>breaker</th><th>to</th><th>nodes</th><th>first to last</th><th>decided on</th><th>followed from Redis</th></tr></thead><tbody>${waves}</tbody></table>
<h3>Half-open episodes</h3>
<table><thead><tr><th>from</th><th>to</th><th>breaker</th><th>nodes probing</th><th>which</th><th>outcome</th></tr></thead><tbody>${episodes}</tbody></table>
`;
  return { cards: cardsHtml, section };
}

/**
 * The calls `serviceShedding` shed, per node and service key, by reason (the
 * last second's cumulative counts); empty when no node shed a call.
 */
function shedHtml(t: Timeline): string {
  const last = new Map<string, Timeline['seconds'][number]>();
  for (const s of t.seconds) last.set(s.node, s);
  const many = t.nodes.length > 1;
  const rows: string[] = [];
  for (const [node, s] of last) {
    for (const [key, v] of Object.entries(s.services)) {
      if (v.shed === undefined || shedTotal(v.shed) === 0) continue;
      rows.push(
        `<tr>${many ? `<td>${esc(node)}</td>` : ''}<td>${esc(key)}</td><td class="n">${int(shedTotal(v.shed))}</td>` +
          `${SHED_REASONS.map((r) => `<td class="n">${int(v.shed?.[r] ?? 0)}</td>`).join('')}</tr>`,
      );
    }
  }
  if (rows.length === 0) return '';
  return `<h2>Calls shed</h2>
<p class="meta">Calls the service level's load shedding (serviceShedding) failed fast, not sent, by reason: the latency throttle (a slow key holding too many of the calls in flight), adaptive throttling (the backend refusing for overload), the concurrency limit. The rejections above include them.</p>
<table><thead><tr>${many ? '<th>node</th>' : ''}<th>key</th><th>shed</th><th>latency</th><th>adaptive</th><th>concurrency</th></tr></thead><tbody>${rows.join('')}</tbody></table>
`;
}

/**
 * The report of a run: one self-contained HTML page (inline CSS, SVG and
 * script; nothing fetched) with the summary, a timeline chart per client
 * node, the narrated steps, the phases and every change of breaker state.
 */
export function renderReport(t: Timeline): string {
  const f = summarize(t);
  const c = f.totals;
  const fleet = f.fleet === undefined ? { cards: '', section: '' } : fleetHtml(t, f.fleet);
  const many = t.nodes.length > 1;
  const started = new Date(t.startedAt)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const json = JSON.stringify(t).replace(/</g, '\\u003c');
  const savedRows = (
    [
      ['service-level rejections', c.rejectedService, SAVED_EXPLAINED.rejectedService],
      ['instance-level skips', c.skips, SAVED_EXPLAINED.skips],
      ['instance-level drops', c.rejectedInstance, SAVED_EXPLAINED.rejectedInstance],
      ['retries on another instance', c.retries, SAVED_EXPLAINED.retries],
    ] as const
  )
    .map(([label, n, why]) => `<tr><td>${esc(label)}</td><td class="n">${int(n)}</td><td>${esc(why)}</td></tr>`)
    .join('');
  const charts = t.nodes
    .map(
      (node) =>
        `<h3>${esc(t.nodes.length > 1 ? `node ${node}` : `client ${node}`)}</h3>` +
        `<div class="chart">${renderChart(t, node)}<div class="readout"></div>` +
        `<div class="legend">${legendHtml()}</div></div>`,
    )
    .join('\n');
  const steps = t.steps.map((s) => `<li><span class="t">${secs(s.atMs)}</span>${esc(s.text)}</li>`).join('');
  const phases = f.phases
    .map(
      (p) =>
        `<tr><td>${esc(p.label)}</td><td class="n">${secs(p.startMs)}</td><td class="n">${secs(p.endMs)}</td>` +
        `<td class="n">${int(ended(p.counts))}</td><td class="n">${int(p.counts.ok)}</td>` +
        `<td class="n">${int(p.counts.failed)}</td><td class="n">${int(rejected(p.counts))}</td>` +
        `<td class="n">${int(p.counts.retries)}</td><td class="n">${int(p.counts.skips)}</td></tr>`,
    )
    .join('');
  const states = t.states
    .map(
      (s) =>
        `<tr><td class="n">${secs(s.atMs)}</td>${t.nodes.length > 1 ? `<td>${esc(s.node)}</td>` : ''}` +
        `<td>${s.level}</td><td>${esc(s.key)}</td>` +
        `<td><span class="state ${s.from}">${s.from}</span> → <span class="state ${s.to}">${s.to}</span></td>` +
        `<td>${esc(s.cause)}</td><td class="n">${pct(s.errorRate)} of ${int(s.samples)}</td>` +
        `<td class="n">${s.to === 'OPEN' ? secs(s.coolingMs) : ''}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(t.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${esc(t.title)}</h1>
<p class="meta">${esc(`${t.mode} mode · started ${started} · ${secs(t.durationMs)} · ${plural(t.nodes.length, 'client node')} · ${t.instances.length} instances`)}</p>
<div class="cards">
${card(int(c.calls), 'calls made')}
${card(int(c.failed + rejected(c)), `calls the caller saw fail (${int(c.failed)} failed, ${int(rejected(c))} rejected)`)}
${card(int(c.rejectedService + c.rejectedInstance + c.skips + c.retries), 'calls the breakers saved')}
${opensCard(f.serviceOpens, 'service', many)}
${opensCard(f.instanceOpens, 'instance', many)}
</div>
${fleet.cards}${fleet.section}<h2>Timeline</h2>
<p class="meta">Numbered markers are the script's steps (listed below). Hover over the chart for the numbers of each second.</p>
${charts}
<h2>What happened</h2>
<ol class="steps">${steps}</ol>
<h2>What the breakers saved</h2>
<table><thead><tr><th>kind</th><th>calls</th><th>meaning</th></tr></thead><tbody>${savedRows}</tbody></table>
${shedHtml(t)}<h2>Phases</h2>
<table><thead><tr><th>phase</th><th>from</th><th>to</th><th>calls</th><th>ok</th><th>failed</th><th>rejected</th><th>retried</th><th>skips</th></tr></thead><tbody>${phases}</tbody></table>
<h2>Breaker state changes</h2>
<table><thead><tr><th>time</th>${t.nodes.length > 1 ? '<th>node</th>' : ''}<th>level</th><th>key</th><th>change</th><th>cause</th><th>window</th><th>cooling</th></tr></thead><tbody>${states}</tbody></table>
<footer>Generated by the cbsuite demo (examples/demo). ${esc(phaseCounts(c))} in all.</footer>
</main>
<script type="application/json" id="timeline-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** Writes the report of `t` to `path`; returns its absolute path. */
export async function writeReport(path: string, t: Timeline): Promise<string> {
  const full = resolve(path);
  await writeFile(full, renderReport(t), 'utf8');
  return full;
}
