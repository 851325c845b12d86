// A phone on a bad network: the approval page's first load is small (HTML, CSS and every
// script it fetches before the customer can act, at most 30 KB as sent) and it fetches no wasm.
// That it works with scripts blocked is approve.spec.ts's "approve with JavaScript off" walk.
import { expect, test } from "@playwright/test";

import { CAROL, Outbox, phone, recordFetches, signIn, startVerification } from "./support";

const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_PROVIDER_PORT}`);
const FIRST_LOAD_LIMIT = 30 * 1024;

test("the approval page's first load is at most 30 KB and loads no wasm", async ({
  browser,
  page,
}) => {
  await signIn(page);
  const { flow } = await startVerification(page, CAROL.email, "Email");
  const link = await outbox.link(CAROL.email, flow.binding_code);

  const device = await browser.newContext(phone());
  const customer = await device.newPage();
  const fetched = recordFetches(customer);
  await customer.goto(link, { waitUntil: "networkidle" });
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  await expect(customer.getByRole("button", { name: /^Send a code/ })).toBeEnabled();

  const paths = fetched.map((f) => f.path);
  expect(paths).toContain("/approve");
  expect(paths.filter((p) => p.endsWith(".wasm"))).toEqual([]);
  expect(paths.filter((p) => p.endsWith(".js"))).toEqual([]);
  const total = fetched.reduce((sum, f) => sum + f.bytes, 0);
  expect(total, JSON.stringify(fetched)).toBeLessThanOrEqual(FIRST_LOAD_LIMIT);
  await device.close();
});
