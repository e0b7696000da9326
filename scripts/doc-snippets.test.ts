// Every ```ts block of the READMEs and docs/ must compile: each is written to
// a file of its own (under examples/, whose dependencies they use) and
// typechecked with the repository's compiler options.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'examples', '.doc-snippets');

function documents(): string[] {
  const docs = [join(root, 'README.md')];
  for (const pkg of readdirSync(join(root, 'packages'))) docs.push(join(root, 'packages', pkg, 'README.md'));
  for (const f of readdirSync(join(root, 'docs'))) if (f.endsWith('.md')) docs.push(join(root, 'docs', f));
  return docs.filter((d) => {
    try {
      readFileSync(d);
      return true;
    } catch {
      return false;
    }
  });
}

function snippets(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

describe('code in the docs', () => {
  it('compiles', () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const files: string[] = [];
    const origin = new Map<string, string>();
    for (const doc of documents()) {
      snippets(doc).forEach((code, i) => {
        const name = `${relative(root, doc).replace(/[/.]/g, '_')}_${i + 1}.ts`;
        const path = join(out, name);
        // Top-level await needs a module; a snippet without imports would be a script.
        writeFileSync(path, `${code}\nexport {};\n`);
        files.push(path);
        origin.set(path, `${relative(root, doc)} snippet ${i + 1}`);
      });
    }
    expect(files.length).toBeGreaterThanOrEqual(4);
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (config === undefined) throw new Error('cannot read tsconfig.json');
    const program = ts.createProgram(files, { ...config.options, noEmit: true, noUnusedLocals: false });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && files.includes(d.file.fileName))
      .map((d) => {
        const { line } = d.file?.getLineAndCharacterOfPosition(d.start ?? 0) ?? { line: 0 };
        return `${origin.get(d.file?.fileName ?? '')} line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      });
    expect(problems).toEqual([]);
    rmSync(out, { recursive: true, force: true });
  }, 60_000);
});

describe("the README's first code", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## In code'), readme.indexOf('\n## ', readme.indexOf('## In code') + 1));

  it('is examples/quickstart.ts, character for character', () => {
    const code = section.match(/^```ts\n([\s\S]*?)^```$/m)?.[1];
    expect(code).toBe(readFileSync(join(root, 'examples', 'quickstart.ts'), 'utf8'));
  });

  it('shows the command that runs it and the end of what it prints', () => {
    expect(section).toContain('```sh\nnpx tsx examples/quickstart.ts\n```');
    const shown = section.match(/^```text\n([\s\S]*?)^```$/m)?.[1] ?? '';
    const printed = readFileSync(join(root, 'examples', 'quickstart.expected.txt'), 'utf8');
    expect(shown.length).toBeGreaterThan(0);
    expect(printed.endsWith(shown)).toBe(true);
  });
});
