import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (file: string) => fileURLToPath(new URL(`./packages/${file}`, import.meta.url));

// One config for every package: tests sit next to the code as *.test.ts and
// import the workspace packages from source.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@cbsuite\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@cbsuite\/grpc-interceptor$/, replacement: src('grpc-interceptor/src/index.ts') },
      { find: /^@cbsuite\/grpc-interceptor\/prometheus$/, replacement: src('grpc-interceptor/src/prometheus.ts') },
      { find: /^@cbsuite\/grpc-interceptor\/otel$/, replacement: src('grpc-interceptor/src/otel.ts') },
      {
        find: /^@cbsuite\/grpc-interceptor\/internals$/,
        replacement: src('grpc-interceptor/src/adapter-internals.ts'),
      },
      { find: /^@cbsuite\/nice-grpc$/, replacement: src('nice-grpc/src/index.ts') },
      { find: /^@cbsuite\/redis-sync$/, replacement: src('redis-sync/src/index.ts') },
      { find: /^@cbsuite\/testkit\/(.*)$/, replacement: src('testkit/src/$1') },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'examples/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    allowOnly: false,
    globalSetup: ['./scripts/test-global-setup.ts'],
  },
});
