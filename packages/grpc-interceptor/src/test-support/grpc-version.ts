// The version of the grpc-js the tests run on: the installed one, or the one
// the grpc-js matrix aliases in (scripts/grpc-matrix.mjs).

import { grpc } from '@cbsuite/testkit/echo.js';
import { grpcVersionOf } from '../grpc-compat.js';

const found = grpcVersionOf(grpc);
if (found === undefined) throw new Error('cannot read the version of the grpc-js under test');

export const GRPC_JS_VERSION: string = found;

/** Whether the grpc-js under test is `version` or newer (plain x.y.z versions). */
export function grpcJsAtLeast(version: string): boolean {
  const a = GRPC_JS_VERSION.split('.').map(Number);
  const b = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
