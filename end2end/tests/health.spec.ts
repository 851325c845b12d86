import { expect, test } from "@playwright/test";

const providerPort = `${process.env.E2E_PROVIDER_PORT}`;

test("the status page hydrates and checks the provider through the BFF", async ({ page }) => {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });

  await page.goto("/status");
  await expect(page.getByRole("heading", { level: 1, name: "Countersign" })).toBeVisible();

  // The server rendered the provider's answer into the HTML: to anyone not signed in, up or
  // down and nothing more (no address, no version).
  await expect(page.locator('[data-state="up"]')).toHaveText("Up");
  await expect(page.getByTestId("version")).toHaveCount(0);
  expect(await page.content()).not.toContain(`:${providerPort}`);

  // The button is disabled until the wasm has hydrated the page.
  const checkAgain = page.getByRole("button", { name: "Check again" });
  await expect(checkAgain).toBeEnabled();

  // Now the browser itself calls the server function, which asks the provider.
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.url().endsWith("/api/provider-status") && r.request().method() === "POST",
    ),
    checkAgain.click(),
  ]);
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ state: "up" });
  await expect(page.locator('[data-state="up"]')).toHaveText("Up");

  expect(problems).toEqual([]);
});

test("an unknown address shows a page-not-found page with a 404", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Go to the start page" }).click();
  await expect(page).toHaveURL("/");
});
