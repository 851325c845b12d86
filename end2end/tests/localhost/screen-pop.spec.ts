// A screen-pop followed from another site: a CRM at another origin links to the console, which
// is browsed as `localhost` here while the page with the link is on 127.0.0.1 (another site).
// The browser leaves the `SameSite=Strict` session cookie off such a navigation; a signed-in
// agent must still land on a filled form, not on the sign-in.
import { expect, test } from "@playwright/test";

import { cardOf, signIn } from "../verify/support";

const port = process.env.E2E_PASSKEY_PORT;
const elsewhere = `http://127.0.0.1:${process.env.E2E_PASSKEY_PROVIDER_PORT}`;

test("a signed-in agent who follows a CRM's link from another site gets the filled form, once", async ({
  page,
}) => {
  await signIn(page);
  await page.goto(`${elsewhere}/.well-known/openid-configuration`);
  const pop = `http://localhost:${port}/?verify=bob%40example.com&channel=sms&ticket=CRM-88`;
  await page.evaluate((href) => {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = "Verify the caller";
    document.body.append(link);
  }, pop);
  await page.getByRole("link", { name: "Verify the caller" }).click();

  await expect(page.getByTestId("agent-name")).toBeVisible();
  await expect(page.getByLabel("Customer's email, phone number or user id")).toHaveValue(
    "bob@example.com",
  );
  await expect(page.getByRole("radio", { name: "Text message" })).toBeChecked();
  await expect(page.getByLabel("Ticket or call id")).toHaveValue("CRM-88");
  await expect(page.getByRole("link", { name: "Sign in" })).toHaveCount(0);

  // Sent, the screen-pop leaves the address bar: a reload does not offer it again.
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/start-verification")),
    page.getByRole("button", { name: "Send verification" }).click(),
  ]);
  const flow = (await response.json()) as { id: string };
  await expect(cardOf(page, flow.id)).toHaveAttribute("data-status", "pending");
  await expect(page).toHaveURL(`http://localhost:${port}/`);
  await page.reload();
  await expect(page.getByLabel("Ticket or call id")).toHaveValue("");
  await cardOf(page, flow.id).getByRole("button", { name: /^Cancel/ }).click();
  await expect(cardOf(page, flow.id)).toHaveAttribute("data-status", "cancelled");
});
