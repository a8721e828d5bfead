import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'infra/**/*.test.ts'],
    // The soak (minutes) runs only from `make soak`, which sets SOAK=1.
    exclude: process.env['SOAK'] ? [...configDefaults.exclude] : [...configDefaults.exclude, 'test/soak/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start brokers and servers; two workers fit the 2-core machines we run on.
    maxWorkers: 2,
    // The AWS SDK warns on every client on Node 20 that its 2027 releases need Node 22; it would bury
    // the test output (the CLI silences it the same way, src/cli.ts).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
