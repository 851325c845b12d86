// SECURITY.md case 33 in a real browser: the console hydrates under the BFF's content security
// policy (scripts by nonce, wasm by 'wasm-unsafe-eval') and the approval page (HTML only)
// renders under it, without a single violation; a page of another origin cannot frame them,
// and after sign-out Back does not bring the console back from a cache.
import { type BrowserContext, type Page, expect, test } from "@playwright/test";

import { AGENT, ALICE, Outbox, phone, signIn, startVerification, watch } from "./support";

const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_PROVIDER_PORT}`);

/** Records every CSP violation of every page of `context` (from before any script runs). */
async function violations(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) => {
      seen.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
    });
  });
}

async function violationsOf(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

/** Whether the page fetched the wasm bundle (it hydrates from it). */
async function loadedWasm(page: Page): Promise<boolean> {
  return page.evaluate(() =>
    performance.getEntriesByType("resource").some((entry) => entry.name.endsWith(".wasm")),
  );
}

test("the console hydrates and the approval page renders under the CSP with no violation", async ({
  browser,
}) => {
  const desk = await browser.newContext();
  await violations(desk);
  const deskProblems = watch(desk);
  const agent = await desk.newPage();
  const response = await agent.goto("/");
  const csp = response?.headers()["content-security-policy"] ?? "";
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/'nonce-[A-Za-z0-9_-]{22,}'/);
  expect(response?.headers()["cache-control"]).toBe("no-store");

  // Signing in waits for the hydrated console (its button enabled, its live stream open).
  await signIn(agent);
  const mark = await outbox.mark();
  await startVerification(agent, ALICE.phone, "Text message");
  expect(await loadedWasm(agent)).toBe(true);
  expect(await violationsOf(agent)).toEqual([]);

  const device = await browser.newContext(phone());
  await violations(device);
  const customerProblems = watch(device);
  const customer = await device.newPage();
  const message = await outbox.waitFor((m) => m.to === ALICE.phone && m.link !== null, mark);
  const approval = await customer.goto(message.link as string);
  expect(approval?.headers()["cache-control"]).toBe("no-store");
  expect(approval?.headers()["referrer-policy"]).toBe("same-origin");
  await customer.waitForLoadState("networkidle");
  // The approval page loads no wasm: it is plain HTML forms.
  expect(await loadedWasm(customer)).toBe(false);
  expect(await violationsOf(customer)).toEqual([]);

  expect(deskProblems).toEqual([]);
  expect(customerProblems).toEqual([]);
  await desk.close();
  await device.close();
});

test("case 33: a page of another origin cannot frame the console or the approval page", async ({
  page,
  baseURL,
}) => {
  for (const target of ["/", "/approve?auth_req_id=framed&binding_message=ABC-123"]) {
    // A page of another origin, served by the browser's own interception.
    await page.route("http://framer.example/", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><title>framer</title><iframe id="victim" src="${baseURL}${target}"></iframe>`,
      }),
    );
    // `load` waits for the frame too, whether it loads or is refused.
    await page.goto("http://framer.example/", { waitUntil: "load" });
    const child = page.frames().find((frame) => frame !== page.mainFrame());
    expect(child, "the framer has its frame").toBeDefined();
    // Refused: Chromium shows its own error page in the frame instead of Countersign's.
    expect(child?.url().startsWith(baseURL as string), `${target} was framed`).toBe(false);
    await expect(page.frameLocator("#victim").getByText("Countersign")).toHaveCount(0);
    await page.unroute("http://framer.example/");
  }
});

test("case 33: after sign-out, Back does not show the console from a cache", async ({ page }) => {
  await signIn(page, AGENT);
  await expect(page.getByTestId("agent-name")).toHaveText(AGENT.name);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goBack();
  await expect(page.getByTestId("agent-name")).toHaveCount(0);
  await page.goForward().catch(() => undefined);
  await expect(page.getByTestId("agent-name")).toHaveCount(0);
});
