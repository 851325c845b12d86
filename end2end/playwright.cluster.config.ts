// The two-device approval test once more, against a running cluster: `make test-cluster`
// starts three BFFs and two providers behind nginx and passes the balancers' addresses in
// (server/tests/cluster). The agent's browser and the customer's phone go through nginx, so
// their requests land on different instances.
import { defineConfig, devices } from "@playwright/test";

import { launchOptions } from "./chromium";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the cluster's browser test with \`make test-cluster\``);
  }
  return value;
}

required("E2E_PROVIDER_PORT");

export default defineConfig({
  testDir: "./tests",
  testMatch: "verify/approve.spec.ts",
  grep: /approve by text message/,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  outputDir: "test-results/cluster",
  use: {
    baseURL: required("E2E_CLUSTER_URL"),
    trace: "retain-on-failure",
    launchOptions,
  },
  projects: [{ name: "cluster", use: { ...devices["Desktop Chrome"] } }],
});
