import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// The grpc-interceptor tests against another grpc-js than the installed one:
// scripts/grpc-matrix.mjs installs it on its own and points
// CBSUITE_GRPC_JS_DIR at its package directory. Every import of
// @grpc/grpc-js (and of its subpaths) in the tests and the sources under test
// then loads that copy. The script passes the grpc-interceptor directory as
// the filter (mergeConfig would add to `include`, not replace it).
const dir = process.env.CBSUITE_GRPC_JS_DIR;
if (!dir) throw new Error('CBSUITE_GRPC_JS_DIR must name the @grpc/grpc-js directory to test against');

export default mergeConfig(
  base,
  defineConfig({
    resolve: { alias: [{ find: /^@grpc\/grpc-js(\/.*)?$/, replacement: `${dir}$1` }] },
    // Two load scenarios are left to pnpm test, on the installed grpc-js: they
    // measure the suite's own policy under load (shedding, the instance level
    // in an overload) for 15 to 20 s each, where the matrix is after what
    // changes between releases (the LB API, the interceptor API, the transport's
    // statuses), which every other file here covers with real servers.
    test: {
      exclude: [...configDefaults.exclude, '**/two-dependencies.test.ts', '**/overload-cascade.test.ts'],
    },
  }),
);
