// Playwright runs against a Countersign it starts itself (`webServer` below) on the free ports
// that `scripts/e2e.sh` picks, with a throw-away data folder. Browsers are never downloaded:
// Debian's Chromium does the work.
import { defineConfig, devices } from "@playwright/test";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests with \`make e2e\``);
  }
  return value;
}

const port = required("E2E_PORT");
const providerPort = required("E2E_PROVIDER_PORT");
const dataDir = required("E2E_DATA_DIR");
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  // The HTML report must never open a browser window: that would hang a headless run.
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "desktop", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    command: "../target/debug/countersign",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      COUNTERSIGN_ADDR: `127.0.0.1:${port}`,
      COUNTERSIGN_PROVIDER_ADDR: `127.0.0.1:${providerPort}`,
      COUNTERSIGN_DATA_DIR: dataDir,
      COUNTERSIGN_SITE_ROOT: "../target/site",
      RUST_LOG: process.env.RUST_LOG ?? "info",
    },
  },
});
