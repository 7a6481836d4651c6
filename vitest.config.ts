import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // PostgreSQL suites share one database; files run in parallel but each suite uses its own schema.
    pool: 'forks',
  },
});
