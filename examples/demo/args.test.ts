import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET_REPORT, DEFAULT_REPORT, parseArgs } from './args.js';

describe('parseArgs', () => {
  it('runs the embedded demo by default, writing the report to the current directory', () => {
    expect(parseArgs([])).toEqual({ kind: 'embedded', quick: false, report: DEFAULT_REPORT });
    expect(parseArgs(['--', '--quick'])).toEqual({ kind: 'embedded', quick: true, report: DEFAULT_REPORT });
  });

  it('takes a report path, or none', () => {
    expect(parseArgs(['--report', 'out/r.html'])).toMatchObject({ report: 'out/r.html' });
    expect(parseArgs(['--report=r.html', '--quick'])).toEqual({ kind: 'embedded', quick: true, report: 'r.html' });
    expect(parseArgs(['--no-report'])).toMatchObject({ report: undefined });
    expect(parseArgs(['--report'])).toEqual({ kind: 'error', message: '--report needs a path' });
    expect(parseArgs(['--report', '--quick'])).toEqual({ kind: 'error', message: '--report needs a path' });
  });

  it("gives the fleet demo a report of its own, so that pnpm demo:fleet does not overwrite pnpm demo's", () => {
    expect(DEFAULT_FLEET_REPORT).toBe('demo-fleet-report.html');
    expect(DEFAULT_FLEET_REPORT).not.toBe(DEFAULT_REPORT);
    expect(parseArgs(['--quick', '--fleet'])).toMatchObject({ report: DEFAULT_FLEET_REPORT });
    expect(parseArgs(['--report', 'mine.html', '--fleet'])).toMatchObject({ report: 'mine.html' });
  });

  it('knows --fleet and --help, and refuses anything else', () => {
    expect(parseArgs(['--fleet'])).toEqual({ kind: 'fleet', quick: false, report: DEFAULT_FLEET_REPORT });
    expect(parseArgs(['--fleet', '--quick', '--no-report'])).toEqual({ kind: 'fleet', quick: true, report: undefined });
    expect(parseArgs(['--quick', '--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['--duration', '10'])).toEqual({ kind: 'error', message: 'unknown argument "--duration"' });
  });
});
