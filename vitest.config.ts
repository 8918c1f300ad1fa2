import { configDefaults, defineConfig } from 'vitest/config';

// Projects: "unit" needs nothing but Node; "e2e" drives real processes
// and a real Docker engine (scripts/ensure-docker.sh prepares it); "bench" prints figures.
export default defineConfig({
  test: {
    // One test file at a time: the e2e files share one Docker engine and one of
    // them restarts it (a per-project setting is not honoured by vitest 3). `npm test`
    // (scripts/test.sh) runs the unit project on its own, two files at a time.
    fileParallelism: false,
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
        },
      },
      {
        // Benchmarks print figures and assert nothing about time; never part of `npm test`.
        test: {
          name: 'bench',
          include: ['bench/**/*.ts'],
          // Shared by benchmarks and their smoke tests; no tests of their own.
          exclude: [...configDefaults.exclude, 'bench/lib/**'],
          testTimeout: 600_000,
        },
      },
    ],
  },
});
