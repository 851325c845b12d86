// Against the second Countersign of playwright.config.ts, whose requests expire after
// E2E_EXPIRY_SECS (10) seconds: nobody answers, and the agent's card turns to expired by itself.
import { expect, test } from "@playwright/test";

import { ALICE, Outbox, phone, signIn, startVerification, watch } from "../verify/support";

const expirySecs = Number(process.env.E2E_EXPIRY_SECS);
const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_EXPIRY_PROVIDER_PORT}`);

test("an unanswered verification expires on the agent's card, live, and the link says so", async ({
  browser,
  context,
  page,
}) => {
  expect(expirySecs).toBeGreaterThanOrEqual(10);
  // Sign-in, the wait itself, and the poller's interval on top.
  test.setTimeout(30_000 + expirySecs * 3_000);
  const problems = watch(context);

  await signIn(page);
  const { flow, card } = await startVerification(page, ALICE.phone, "Text message");
  await expect(card.getByTestId("countdown")).toHaveText(/^0:(0\d|10)$/);

  // The customer opens the link in time, but does nothing.
  const customerContext = await browser.newContext(phone());
  const customer = await customerContext.newPage();
  await customer.goto(await outbox.link(ALICE.phone, flow.binding_code));
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  await expect(card.getByTestId("flow-status")).toHaveText(
    "Waiting for the customer to open the link.",
  );

  // The card turns by itself, over the event stream.
  await expect(card).toHaveAttribute("data-status", "expired", {
    timeout: expirySecs * 3_000,
  });
  await expect(card.locator(".status-badge")).toHaveText("Expired");
  await expect(card.getByTestId("flow-status")).toHaveText("Nobody answered in time.");
  await expect(card.locator('.step[data-kind="expired"]')).toBeVisible();
  await expect(card.getByTestId("countdown")).toHaveCount(0);
  await expect(card.getByRole("button", { name: /^Dismiss/ })).toBeVisible();
  await expect(page.getByTestId("history").locator(`tr[data-flow="${flow.id}"]`)).toHaveAttribute(
    "data-status",
    "expired",
  );

  // The customer, a step too late, is told.
  await customer.getByRole("button", { name: /^Send a code to / }).click();
  await expect(customer.getByRole("heading", { name: "This request has expired" })).toBeVisible();
  await expect(
    customer.getByText("This request has expired. Ask the agent to send a new one."),
  ).toBeVisible();

  expect(problems).toEqual([]);
  await customerContext.close();
});
