import { type Page, expect, test } from "@playwright/test";

// The demo seed's agent (see provider/seed/demo.toml); loopback demos only.
const AGENT = { email: "agent@demo.bank", password: "agent-demo-password" };

/** Collects page errors and console errors, to assert none happened. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  return problems;
}

/** Signs in from the console's sign-in screen, through the embedded provider's page. */
async function signIn(page: Page) {
  await page.goto("/");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Work email").fill(AGENT.email);
  await page.getByLabel("Password").fill(AGENT.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL("/");
  await expect(page.getByTestId("agent-name")).toBeVisible();
  // Hydrated: the submit button is enabled only then.
  await expect(page.getByRole("button", { name: "Send verification" })).toBeEnabled();
}

test("signed out, the console is a server-rendered sign-in link", async ({ browser }) => {
  // No JavaScript at all: the link is in the HTML.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  const link = page.getByRole("link", { name: "Sign in" });
  await expect(link).toHaveAttribute("href", "/auth/login?return_to=/");
  await context.close();
});

test("an agent starts a link verification, sees it live in a second tab, and cancels it", async ({
  page,
  context,
}) => {
  const problems = watch(page);
  await signIn(page);
  await expect(page.getByText("Agent", { exact: true })).toBeVisible();
  await expect(page.getByRole("link", { name: /Development outbox/ })).toHaveAttribute(
    "target",
    "_blank",
  );

  // A second tab of the same agent follows the stream.
  const other = await context.newPage();
  const otherProblems = watch(other);
  await other.goto("/");
  await expect(other.locator('.live-state[data-live="live"]')).toBeVisible();
  await expect(page.locator('.live-state[data-live="live"]')).toBeVisible();

  // The identifier field has the focus; its kind is detected as it is typed.
  const identifier = page.getByLabel("Customer's email, phone number or user id");
  await expect(identifier).toBeFocused();
  await identifier.fill("alice@example.com");
  await expect(page.getByTestId("detected-type")).toHaveText("Looks like an email address.");
  await expect(page.getByRole("radio", { name: "Email" })).toBeChecked();
  await identifier.fill("alice");
  await expect(page.getByTestId("detected-type")).toHaveText("Looks like a user id.");

  // Keyboard only: pick the link channel, then Enter.
  await page.getByRole("radio", { name: "Link / QR code" }).check();
  await identifier.focus();
  await page.keyboard.press("Enter");

  const card = page.getByTestId("flow-card").first();
  await expect(card).toBeVisible();
  await expect(card).toHaveAttribute("data-status", "pending");
  const code = (await card.getByTestId("binding-code").locator("[aria-hidden]").textContent()) ?? "";
  expect(code).toMatch(/^[AEFMRWY24679]{3}-[AEFMRWY24679]{3}$/);
  await expect(card.getByRole("img", { name: /QR code/ })).toBeVisible();
  await expect(card.getByRole("textbox", { name: "Approval link" })).toHaveValue(/\/approve\?/);
  await expect(card.getByTestId("countdown")).toHaveText(/^\d+:\d\d$/);
  await expect(card.getByRole("button", { name: "Copy link" })).toBeEnabled();
  await expect(identifier).toHaveValue("");

  // The other tab got the new verification over server-sent events.
  const otherCard = other.getByTestId("flow-card").filter({ hasText: code });
  await expect(otherCard).toHaveAttribute("data-status", "pending");

  await card.getByRole("button", { name: /^Cancel/ }).click();
  await expect(card).toHaveAttribute("data-status", "cancelled");
  await expect(card.getByTestId("flow-status")).toContainText("Cancelled");
  await expect(otherCard).toHaveAttribute("data-status", "cancelled");
  // The Cancel button is gone; the keyboard focus moved to Dismiss.
  await expect(card.getByRole("button", { name: /^Dismiss/ })).toBeFocused();

  // The history lists it, newest first.
  const row = page.getByTestId("history").locator("tbody tr").first();
  await expect(row).toContainText(code);
  await expect(row).toContainText("Cancelled");

  // Dismissed, the card goes; the row stays.
  await card.getByRole("button", { name: /^Dismiss/ }).click();
  await expect(page.getByTestId("flow-card")).toHaveCount(0);
  await expect(row).toContainText(code);

  // Nothing secret reached the page.
  const html = await page.content();
  expect(html).not.toMatch(/access_token|id_token|refresh_token|client_secret|demo-console-secret/);

  expect(problems).toEqual([]);
  expect(otherProblems).toEqual([]);
});

test("an empty identifier is refused with a sentence", async ({ page }) => {
  await signIn(page);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("alert").filter({ hasText: "Type the customer" })).toBeVisible();
});

test("signing out leads back to the sign-in link", async ({ page }) => {
  await signIn(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
});

test("a screen-pop link fills the form through the sign-in, and only Enter sends it", async ({
  page,
}) => {
  const problems = watch(page);
  const starts: string[] = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/start-verification")) starts.push(request.url());
  });
  // Signed out: the sign-in comes back to the same screen-pop.
  await page.goto("/?verify=bob%40example.com&channel=email&ticket=CRM-77&extra=ignored");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Work email").fill(AGENT.email);
  await page.getByLabel("Password").fill(AGENT.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/\?verify=bob%40example%2Ecom&channel=email&ticket=CRM%2D77$/);
  await expect(page.getByRole("button", { name: "Send verification" })).toBeEnabled();

  // Filled in, the channel picked, nothing sent.
  await expect(page.getByLabel("Customer's email, phone number or user id")).toHaveValue(
    "bob@example.com",
  );
  await expect(page.getByRole("radio", { name: "Email" })).toBeChecked();
  await expect(page.getByLabel("Ticket or call id")).toHaveValue("CRM-77");
  expect(starts).toEqual([]);

  // Enter sends it: a card with the ticket.
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/start-verification")),
    page.getByLabel("Customer's email, phone number or user id").press("Enter"),
  ]);
  const flow = (await response.json()) as { id: string };
  const card = page.locator(`[data-testid="flow-card"][data-flow="${flow.id}"]`);
  await expect(card).toHaveAttribute("data-status", "pending");
  await expect(card.getByTestId("flow-ticket")).toHaveText("Ticket CRM-77");
  expect(starts).toHaveLength(1);
  await card.getByRole("button", { name: /^Cancel/ }).click();
  await expect(card).toHaveAttribute("data-status", "cancelled");

  // A value the form would refuse is left out, never half-used.
  await page.goto("/?verify=carol&channel=fax&ticket=%3D1%2B1");
  await expect(page.getByLabel("Customer's email, phone number or user id")).toHaveValue("carol");
  await expect(page.getByLabel("Ticket or call id")).toHaveValue("");
  expect(problems).toEqual([]);
});
