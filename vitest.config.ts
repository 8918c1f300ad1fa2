import { defineConfig } from 'vitest/config';

// Two projects: "unit" needs nothing but Node; "e2e" drives real processes
// and a real Docker engine (scripts/ensure-docker.sh prepares it).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // Tests share one Docker engine and a 2-core machine: run files one at a time.
          fileParallelism: false,
        },
      },
      {
        // Benchmarks print figures and assert nothing about time; never part of `npm test`.
        test: {
          name: 'bench',
          include: ['bench/**/*.ts'],
          testTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
