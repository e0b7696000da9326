import { describe, expect, it } from 'vitest';
import { render, SMOKE_NOTICE } from './render.js';
import type { Group } from './suites.js';

const group: Group = {
  title: 'isAllowed + succeed',
  unit: 'ns',
  peers: {},
  rows: [
    { id: 'base', label: 'baseline' },
    { id: 'pair', label: 'Panel.isAllowed + succeed', baseline: 'base', goal: '≤ 30 ns' },
  ],
};
const results = new Map([
  ['base', 10],
  ['pair', 25],
]);

describe('benchmark tables', () => {
  it('a full run shows medians, ratios and the goal each figure is held to', () => {
    const text = render(group, results);
    expect(text).toContain('| case                      | median / op | × baseline |    goal |');
    expect(text).toContain('| Panel.isAllowed + succeed |     25.0 ns |      2.50× | ≤ 30 ns |');
  });

  it('a smoke run shows no goals, and does not call its figures medians', () => {
    const text = render(group, results, true);
    expect(text).not.toMatch(/goal|median|≤ 30 ns/);
    expect(text).toContain('| case                      | smoke figure | × baseline |');
    expect(SMOKE_NOTICE).toMatch(/^SMOKE RUN: .* not measurements/);
  });
});
