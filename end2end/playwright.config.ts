// Playwright runs against a Countersign it starts itself (`webServer` below) on the free ports
// that `scripts/e2e.sh` picks, with a throw-away data folder. Browsers are never downloaded:
// Debian's Chromium does the work. A second Countersign, whose requests expire after 10 s,
// serves the `expiry` project (its ports are picked here, its data is a subfolder).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

import { defineConfig, devices } from "@playwright/test";

import { launchOptions } from "./chromium";

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

/** A free loopback port, as `scripts/e2e.sh` picks them. */
function freePort(taken: string[]): string {
  for (;;) {
    const found = execFileSync("python3", [
      "-c",
      'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])',
    ])
      .toString()
      .trim();
    if (!taken.includes(found)) return found;
  }
}

// A second Countersign whose requests expire after 10 s (the least it allows), for
// `tests/expiry/`. Its ports are picked once, here in the runner: the workers load this file
// again, but inherit the runner's environment, so they see the same ports.
if (!process.env.E2E_EXPIRY_PORT || !process.env.E2E_EXPIRY_PROVIDER_PORT) {
  process.env.E2E_EXPIRY_PORT = freePort([port, providerPort]);
  process.env.E2E_EXPIRY_PROVIDER_PORT = freePort([
    port,
    providerPort,
    process.env.E2E_EXPIRY_PORT,
  ]);
}
// A third, browsed as `localhost` too, for `tests/passkeys/`: passkeys need a domain (never an
// IP address), and its embedded provider takes this origin as the passkeys' relying party.
if (!process.env.E2E_PASSKEY_PORT || !process.env.E2E_PASSKEY_PROVIDER_PORT) {
  const taken = [port, providerPort, process.env.E2E_EXPIRY_PORT, process.env.E2E_EXPIRY_PROVIDER_PORT];
  process.env.E2E_PASSKEY_PORT = freePort(taken);
  process.env.E2E_PASSKEY_PROVIDER_PORT = freePort([...taken, process.env.E2E_PASSKEY_PORT]);
}
const passkeyPort = process.env.E2E_PASSKEY_PORT;
const passkeyProviderPort = process.env.E2E_PASSKEY_PROVIDER_PORT;
const passkeyURL = `http://localhost:${passkeyPort}`;
const expiryPort = process.env.E2E_EXPIRY_PORT;
const expiryProviderPort = process.env.E2E_EXPIRY_PROVIDER_PORT;
// Browsed as `localhost` while its provider is at 127.0.0.1: another site, so its sign-in is a
// cross-site round trip (the provider's redirect back must still end in a signed-in console).
const expiryURL = `http://localhost:${expiryPort}`;
const expirySecs = "10";
// The demo seed registers the console's callback at 127.0.0.1 (any port); this server's
// provider gets the demo seed with its `localhost` callback registered instead.
const expirySeed = `${dataDir}/expiry-seed.toml`;
const passkeySeed = `${dataDir}/passkey-seed.toml`;
mkdirSync(dataDir, { recursive: true });
for (const [seed, url] of [
  [expirySeed, expiryURL],
  [passkeySeed, passkeyURL],
]) {
  writeFileSync(
    seed,
    readFileSync("../provider/seed/demo.toml", "utf8").replace(
      `redirect_uris = ["http://127.0.0.1:3000/auth/callback"]`,
      `redirect_uris = ["${url}/auth/callback"]`,
    ),
  );
}
// The tests read it (and the ports) from the environment.
process.env.E2E_EXPIRY_SECS = expirySecs;

/** A Countersign with the embedded provider on `bff` and `provider`, data in `data`. */
function server(
  name: string,
  bff: string,
  provider: string,
  data: string,
  extra: Record<string, string> = {},
) {
  const url = `http://127.0.0.1:${bff}`;
  return {
    name,
    command: "../target/debug/countersign",
    url: `${url}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: {
      COUNTERSIGN_ADDR: `127.0.0.1:${bff}`,
      // Two servers run at once: the metrics listeners take free ports.
      COUNTERSIGN_METRICS_ADDR: "127.0.0.1:0",
      COUNTERSIGN_PROVIDER_ADDR: `127.0.0.1:${provider}`,
      COUNTERSIGN_DATA_DIR: data,
      COUNTERSIGN_SITE_ROOT: "../target/site",
      // The tests read links and codes from the development outbox, served only under this switch.
      COUNTERSIGN_DEV_OUTBOX: "true",
      RUST_LOG: process.env.RUST_LOG ?? "info",
      ...extra,
    },
  };
}

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
    launchOptions,
  },
  projects: [
    // The console and status pages on their own, first: they expect an agent with no other
    // verification under way.
    {
      name: "desktop",
      testIgnore: ["verify/**", "expiry/**", "passkeys/**", "localhost/**"],
      use: { ...devices["Desktop Chrome"] },
    },
    // Agent (desktop) and customer (a phone, emulated in each test) together; the same agent
    // accounts as "desktop", so after it.
    {
      name: "verify",
      testMatch: "verify/**/*.spec.ts",
      dependencies: ["desktop"],
      use: { ...devices["Desktop Chrome"] },
    },
    // Against the second server, whose requests expire after 10 s.
    {
      name: "expiry",
      testMatch: "expiry/**/*.spec.ts",
      use: { ...devices["Desktop Chrome"], baseURL: expiryURL },
    },
    // Against the third, whose approval page offers passkeys (a virtual authenticator in
    // each phone stands in for its screen lock), and whose `localhost` name makes pages on
    // 127.0.0.1 another site (a CRM's link to the console).
    {
      name: "passkeys",
      testMatch: ["passkeys/**/*.spec.ts", "localhost/**/*.spec.ts"],
      use: { ...devices["Desktop Chrome"], baseURL: passkeyURL },
    },
  ],
  webServer: [
    server("Countersign", port, providerPort, dataDir),
    server("Countersign 10 s", expiryPort, expiryProviderPort, `${dataDir}/expiry`, {
      COUNTERSIGN_REQUEST_EXPIRY_SECS: expirySecs,
      COUNTERSIGN_PUBLIC_URL: expiryURL,
      COUNTERSIGN_PROVIDER_SEED: expirySeed,
    }),
    server("Countersign passkeys", passkeyPort, passkeyProviderPort, `${dataDir}/passkeys`, {
      COUNTERSIGN_PUBLIC_URL: passkeyURL,
      COUNTERSIGN_PROVIDER_SEED: passkeySeed,
    }),
  ],
});
