import { defineConfig } from "vitest/config";
import { labPairCount } from "./e2e/lab/pair-count.ts";

// Three projects: fast pure/integration tests, browser tests, and lab tests that share booted qemu hypervisors.
// Unit and browser run in the threads pool: vitest runs each pool at the same time, while within the forks pool
// it would run them all before the lab's single fork (one worker on 2 cores: ~400 s more of CI).
export default defineConfig({
  test: {
    // Only the lab runs in forks: one fork per host pair (e2e/lab/pairs.ts).
    poolOptions: { forks: { maxForks: labPairCount(), minForks: 1 } },
    reporters: ["default", "./test-support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
          pool: "threads",
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "browser",
          include: ["e2e/browser/**/*.test.ts"],
          pool: "threads",
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "lab",
          include: ["e2e/lab/**/*.test.ts", "e2e/tests/**/*.test.ts"],
          globalSetup: ["e2e/lab/global-setup.ts"],
          // One fork per host pair (e2e/lab/pairs.ts): files on a fork share its hosts and never interleave on them.
          pool: "forks",

          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
