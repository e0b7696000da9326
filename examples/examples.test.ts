import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

// Each example runs as a user would run it, and must print exactly what its
// X.expected.txt says and exit by itself with code 0.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = [
  'quickstart',
  'service-breaker',
  'runtime-config',
  'instance-failover',
  'error-classification',
  'redis-fleet',
  'panel-fetch',
  'metrics',
  'nice-grpc',
];
const TIMEOUT_MS = 20_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(name: string, cwd = ROOT): Promise<Run> {
  // tsx's own CLI, by path: a working directory outside the repository cannot resolve `--import tsx`.
  const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, join(ROOT, 'examples', `${name}.ts`)], {
      cwd,
      env: { ...process.env, REDIS_URL: inject('redisUrl') },
      timeout: TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('examples', () => {
  it.each(EXAMPLES)('%s prints its expected output and exits 0', { timeout: TIMEOUT_MS + 5_000 }, async (name) => {
    const expected = await readFile(new URL(`./${name}.expected.txt`, import.meta.url), 'utf8');
    const r = await run(name);
    expect(r.stdout, `stderr:\n${r.stderr}`).toBe(expected);
    expect({ code: r.code, signal: r.signal }, `stderr:\n${r.stderr}`).toEqual({ code: 0, signal: null });
  });
});

describe('the quickstart', () => {
  it('runs from any working directory: it finds its proto next to it and starts its own servers', {
    timeout: TIMEOUT_MS + 5_000,
  }, async () => {
    const expected = await readFile(new URL('./quickstart.expected.txt', import.meta.url), 'utf8');
    const r = await run('quickstart', tmpdir());
    expect(r.stdout, `stderr:\n${r.stderr}`).toBe(expected);
    expect(r.code).toBe(0);
  });
});
