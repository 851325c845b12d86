// Accessibility scans (axe-core) of the signed-in console and of the approval page on a phone:
// no serious or critical violation. Every violation found, of any impact, is printed.
import AxeBuilder from "@axe-core/playwright";
import { type Page, type TestInfo, expect, test } from "@playwright/test";

import { BOB, Outbox, cancel, phone, signIn, startVerification } from "./support";

const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_PROVIDER_PORT}`);

/** Scans `page`, prints and attaches what axe found, and answers the serious or critical ones. */
async function scan(page: Page, what: string, info: TestInfo): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations.map(
    (v) =>
      `${what}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
      v.nodes
        .map((n) => `    ${n.target.join(" ")}: ${n.failureSummary?.replace(/\n/g, " ")}`)
        .join("\n"),
  );
  if (found.length > 0) console.log(found.join("\n"));
  // What axe could not decide (for instance contrast over an image) is printed for review.
  for (const item of results.incomplete) {
    console.log(
      `${what}: needs review: [${item.impact}] ${item.id}: ${item.help}\n` +
        item.nodes
          .map((n) => `    ${n.target.join(" ")}: ${n.failureSummary?.replace(/\n/g, " ")}`)
          .join("\n"),
    );
  }
  await info.attach(`axe ${what}`, {
    body: JSON.stringify(results.violations, null, 2),
    contentType: "application/json",
  });
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${what}: [${v.impact}] ${v.id}: ${v.help}`);
}

test("the console and the approval page have no serious or critical axe violations", async ({
  browser,
  page,
}, info) => {
  const serious: string[] = [];

  // Signed out: the sign-in screen.
  await page.goto("/");
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();
  serious.push(...(await scan(page, "console, signed out", info)));

  // Signed in, with a live card of the link channel (binding code, countdown, QR code, link).
  await signIn(page);
  const { flow, card } = await startVerification(page, BOB.id, "Link / QR code");
  await expect(card.getByRole("img", { name: /QR code/ })).toBeVisible();
  serious.push(...(await scan(page, "console, signed in", info)));

  // The approval page on a phone: a request named by user id asks for an address first.
  const customerContext = await browser.newContext(phone());
  const customer = await customerContext.newPage();
  expect(flow.link).not.toBeNull();
  await customer.goto(flow.link as string);
  await expect(customer.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  serious.push(...(await scan(customer, "approval page, start", info)));

  // The code screen (an address that names nobody gets the same screen, and no message).
  const before = await outbox.mark();
  await customer
    .getByRole("textbox", { name: "Your email address or phone number" })
    .fill("nobody@example.com");
  await customer.getByRole("button", { name: "Send me a code" }).click();
  await expect(customer.getByRole("heading", { name: "Enter the 6-digit code" })).toBeVisible();
  serious.push(...(await scan(customer, "approval page, code", info)));
  expect(
    (await outbox.all()).filter((m) => m.id > before && m.to === "nobody@example.com"),
  ).toEqual([]);

  await cancel(card);
  await customerContext.close();
  expect(serious).toEqual([]);
});
