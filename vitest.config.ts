import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The soak (minutes) runs only from `make soak`, which sets SOAK=1.
    exclude: process.env['SOAK'] ? [...configDefaults.exclude] : [...configDefaults.exclude, 'test/soak/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start brokers and servers; two workers fit the 2-core machines we run on.
    maxWorkers: 2,
  },
});
