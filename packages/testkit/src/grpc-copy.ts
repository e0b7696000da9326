// A second, separate copy of @grpc/grpc-js, as an application gets when its
// dependencies install two: its own registry of LB policies, its own classes.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';

export function loadSecondGrpcCopy(): { grpc: typeof Grpc; remove: () => void } {
  const require = createRequire(import.meta.url);
  // Under the grpc-js matrix, a copy of the release under test.
  const original = process.env.CBSUITE_GRPC_JS_DIR ?? dirname(require.resolve('@grpc/grpc-js/package.json'));
  const deps = dirname(dirname(original));
  const root = mkdtempSync(join(tmpdir(), 'cbsuite-grpc-copy-'));
  const modules = join(root, 'node_modules');
  cpSync(original, join(modules, '@grpc', 'grpc-js'), { recursive: true, dereference: true });
  // Its dependencies stay the installed ones.
  mkdirSync(join(modules, '@js-sdsl'), { recursive: true });
  symlinkSync(join(deps, '@js-sdsl', 'ordered-map'), join(modules, '@js-sdsl', 'ordered-map'));
  symlinkSync(join(deps, '@grpc', 'proto-loader'), join(modules, '@grpc', 'proto-loader'));
  const grpc = createRequire(join(root, 'index.js'))('@grpc/grpc-js') as typeof Grpc;
  return { grpc, remove: () => rmSync(root, { recursive: true, force: true }) };
}
