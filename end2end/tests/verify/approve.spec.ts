// The whole verification on two devices: the agent at the desktop console, the customer on
// their phone with the link from the development outbox. Each test uses its own customers'
// addresses, and the tests of this file run one after another (they read one-time codes from
// the shared outbox), so a code is never taken for another test's.
import path from "node:path";

import { expect, test } from "@playwright/test";

import {
  AGENT,
  ALICE,
  BOB,
  CAROL,
  Outbox,
  ResponseRecorder,
  builtFile,
  enterCode,
  eventsText,
  followEvents,
  frames,
  leaks,
  markDocument,
  phone,
  sameDocument,
  sendCode,
  signIn,
  startVerification,
  watch,
} from "./support";

test.describe.configure({ mode: "default" });

const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_PROVIDER_PORT}`);
// The README's screenshots are refreshed by `make screenshots` (E2E_SCREENSHOTS=1), so an ordinary
// run leaves the working tree as it was.
const screenshots = process.env.E2E_SCREENSHOTS
  ? path.resolve(__dirname, "../../../docs/screenshots")
  : undefined;

test("approve by text message: the agent's card turns to the verified customer live, and no secret reaches either browser", async ({
  browser,
  context,
  page,
}) => {
  const customerContext = await browser.newContext(phone());
  const agentResponses = new ResponseRecorder(context);
  const customerResponses = new ResponseRecorder(customerContext);
  const agentProblems = watch(context);
  const customerProblems = watch(customerContext);

  await signIn(page);
  await followEvents(page);
  await markDocument(page);
  const { flow, card } = await startVerification(page, ALICE.phone, "Text message", "INC-20461");
  const code = flow.binding_code;
  // The help desk's ticket goes with the verification; the form is ready for the next one.
  await expect(card.getByTestId("flow-ticket")).toHaveText("Ticket INC-20461");
  await expect(page.getByLabel("Ticket or call id")).toHaveValue("");
  expect(code).toMatch(/^[AEFMRWY24679]{3}-[AEFMRWY24679]{3}$/);
  await expect(card.getByTestId("flow-status")).toHaveText(
    "Waiting for the customer to open the link.",
  );

  // The customer opens the text message's link on their phone: the same code.
  const link = await outbox.link(ALICE.phone, code);
  const customer = await customerContext.newPage();
  await customer.goto(link);
  await expect(customer.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await expect(customer.getByText(`${AGENT.name} at Demo Bank asked us`)).toBeVisible();
  await expect(customer.getByTestId("binding-code")).toHaveText(code);
  await expect(customer.getByRole("button", { name: "Send a code to •••0101" })).toBeVisible();

  const otp = await sendCode(customer, outbox, ALICE.phone);
  await expect(card.getByTestId("flow-status")).toHaveText("The customer opened the link.");
  await expect(customer.getByText("We sent it to •••0101.")).toBeVisible();
  await enterCode(customer, otp);
  await expect(card.getByTestId("flow-status")).toHaveText(
    "The customer signed in and is deciding.",
  );
  await expect(customer.getByTestId("binding-code")).toHaveText(code);
  if (screenshots) {
    await customer.screenshot({ path: path.join(screenshots, "approve.png"), fullPage: true });
  }

  await customer.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Approved" })).toBeVisible();
  await expect(customer.getByText("You can go back to your call.")).toBeVisible();

  // The agent's card, over server-sent events, without a reload.
  await expect(card).toHaveAttribute("data-status", "approved");
  await expect(card.getByTestId("flow-status")).toHaveText(`Verified: ${ALICE.name}.`);
  const verified = card.getByTestId("verified-customer");
  await expect(verified.getByTestId("customer-name")).toHaveText(ALICE.name);
  await expect(verified.getByTestId("customer-id")).toHaveText(ALICE.id);
  await expect(verified).toContainText("•••0101");
  await expect(card.locator('.step[data-kind="verified"]')).toBeVisible();
  expect(await sameDocument(page), "the console was never reloaded").toBe(true);
  const row = page.getByTestId("history").locator(`tr[data-flow="${flow.id}"]`);
  await expect(row).toHaveAttribute("data-status", "approved");
  await expect(row).toContainText(`${ALICE.name} (${ALICE.id})`);
  await expect(row.getByTestId("history-ticket")).toHaveText("INC-20461");
  if (screenshots) {
    await page.screenshot({ path: path.join(screenshots, "console.png"), fullPage: true });
  }

  // The stream this test followed carried the verification, as frames with ids.
  await expect
    .poll(async () => eventsText(page), { message: "the verified event reaches the stream" })
    .toMatch(new RegExp(`event: verified\\r?\\ndata: \\{[^\\n]*"id":"${flow.id}"`));
  const sse = frames(await eventsText(page));
  expect(sse.length).toBeGreaterThan(0);
  for (const frame of sse) expect(frame).toMatch(/^id: \d+$/m);

  // Nothing secret anywhere: no JWT, no client secret, and the one-time code only in the
  // customer's own input (which is gone now).
  await agentResponses.settle();
  await customerResponses.settle();
  const everything = [
    ...agentResponses.bodies.map((b) => ({
      where: `agent ${b.url}`,
      text: b.text,
      built: builtFile(b.url),
    })),
    ...customerResponses.bodies.map((b) => ({
      where: `customer ${b.url}`,
      text: b.text,
      built: builtFile(b.url),
    })),
    ...sse.map((frame, i) => ({ where: `SSE frame ${i}`, text: frame })),
    { where: "agent page", text: await page.content() },
    { where: "customer page", text: await customer.content() },
  ];
  // The recording has the pages, the wasm and the server functions of both sides.
  const recorded = (bodies: { url: string }[]) => bodies.map((b) => new URL(b.url).pathname);
  expect(recorded(agentResponses.bodies)).toEqual(
    expect.arrayContaining(["/", "/pkg/countersign.wasm", "/authorize", "/api/start-verification"]),
  );
  expect(recorded(customerResponses.bodies)).toEqual(
    expect.arrayContaining(["/approve", "/pkg/countersign.css"]),
  );
  // The approval page is HTML and CSS: the phone fetches no wasm and no script.
  expect(
    recorded(customerResponses.bodies).filter((p) => /\.(wasm|js)$/.test(p)),
  ).toEqual([]);
  // The console's code is a wasm chunk of its own: the console loads it, the phone never does.
  const chunks = (bodies: { url: string }[]) =>
    recorded(bodies).filter((p) => /^\/pkg\/split_.*\.wasm$/.test(p));
  expect(chunks(agentResponses.bodies).length).toBeGreaterThan(0);
  expect(chunks(customerResponses.bodies)).toEqual([]);
  expect(leaks(everything, otp)).toEqual([]);

  // Nothing readable by script either: cookies are HttpOnly, storage is empty.
  for (const [who, where, jar] of [
    ["agent", page, context],
    ["customer", customer, customerContext],
  ] as const) {
    const cookies = await jar.cookies();
    expect(cookies.length, `${who} has a session cookie`).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.httpOnly, `${who} cookie ${cookie.name} is HttpOnly`).toBe(true);
      if (cookie.name === "countersign-device") {
        // The provider's device cookie of the agent's sign-in: on a plain-http loopback
        // provider it cannot be Secure, so it has no __Host- prefix; it is still host-only,
        // HttpOnly and Strict.
        expect(cookie.sameSite, `${who} device cookie is Strict`).toBe("Strict");
        expect(cookie.domain.startsWith("."), `${who} device cookie is host-only`).toBe(false);
      } else {
        expect(cookie.name).toMatch(/^__Host-/);
      }
    }
    const readable = await where.evaluate(() => ({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    }));
    expect(readable, `${who}: nothing readable by script`).toEqual({
      cookie: "",
      local: "{}",
      session: "{}",
    });
  }

  expect(agentProblems).toEqual([]);
  expect(customerProblems).toEqual([]);
  await customerContext.close();
});

test("approve by email, then the agent ends the customer session", async ({ browser, page }) => {
  const customerContext = await browser.newContext(phone());
  await signIn(page);
  const { flow, card } = await startVerification(page, ALICE.email, "Email");

  const customer = await customerContext.newPage();
  await customer.goto(await outbox.link(ALICE.email, flow.binding_code));
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  await expect(customer.getByText("We send it by email.")).toBeVisible();
  await enterCode(customer, await sendCode(customer, outbox, ALICE.email));
  await customer.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Approved" })).toBeVisible();

  await expect(card).toHaveAttribute("data-status", "approved");
  await expect(card.getByTestId("customer-name")).toHaveText(ALICE.name);
  await expect(card.getByTestId("verified-customer")).toContainText("a•••e@example.com");

  // The call is over: the agent ends the customer's session; the card stays verified.
  const end = card.getByRole("button", { name: "End customer session" });
  await end.click();
  await expect(card.locator('.step[data-kind="session_ended"]')).toContainText(
    "Customer session ended",
  );
  await expect(end).toHaveCount(0);
  await expect(card).toHaveAttribute("data-status", "approved");
  await customerContext.close();
});

test("deny: the agent sees the customer said no", async ({ browser, page }) => {
  const customerContext = await browser.newContext(phone());
  await signIn(page);
  const { flow, card } = await startVerification(page, BOB.phone, "Text message");

  const customer = await customerContext.newPage();
  await customer.goto(await outbox.link(BOB.phone, flow.binding_code));
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  await enterCode(customer, await sendCode(customer, outbox, BOB.phone));
  await customer.getByRole("button", { name: "Deny", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Denied" })).toBeVisible();
  await expect(customer.getByText("You said no, and the agent has been told.")).toBeVisible();

  await expect(card).toHaveAttribute("data-status", "denied");
  await expect(card.locator(".status-badge")).toHaveText("Denied");
  await expect(card.getByTestId("flow-status")).toHaveText("The customer denied the request.");
  await expect(card.getByTestId("verified-customer")).toHaveCount(0);
  await expect(page.getByTestId("history").locator(`tr[data-flow="${flow.id}"]`)).toHaveAttribute(
    "data-status",
    "denied",
  );
  await customerContext.close();
});

test("another customer signed in on the link is refused, and the request stays the customer's", async ({
  browser,
  page,
}) => {
  // Named by user id, the request names no address: whoever opens the link types one.
  await signIn(page);
  const { flow, card } = await startVerification(page, ALICE.id, "Text message");
  const link = await outbox.link(ALICE.phone, flow.binding_code);

  // Bob has got hold of Alice's link and signs in with his own email address.
  const bobContext = await browser.newContext(phone());
  const bob = await bobContext.newPage();
  await bob.goto(link);
  await expect(bob.getByTestId("binding-code")).toHaveText(flow.binding_code);
  await bob.getByRole("textbox", { name: "Your email address or phone number" }).fill(BOB.email);
  const mark = await outbox.mark();
  await bob.getByRole("button", { name: "Send me a code" }).click();
  await expect(bob.getByRole("heading", { name: "Enter the 6-digit code" })).toBeVisible();
  // His sign-in names Bob, so he is turned away before any decision is offered.
  await bob.getByRole("textbox", { name: "6-digit code" }).fill(await outbox.code(BOB.email, mark));
  await bob.getByRole("button", { name: "Continue" }).click();
  await expect(bob.getByRole("heading", { name: "This request is not for you" })).toBeVisible();
  await expect(bob.getByRole("button", { name: "Approve", exact: true })).toHaveCount(0);
  await expect(
    bob.getByText("This request is for someone else. Nothing was changed."),
  ).toBeVisible();

  // Alice's card is still waiting, says someone else was refused, and stays so after a reload.
  await expect(card).toHaveAttribute("data-status", "pending");
  await expect(card.getByText("Someone else signed in: refused")).toBeVisible();
  await expect(card.getByTestId("verified-customer")).toHaveCount(0);
  await page.reload();
  await expect(card).toHaveAttribute("data-status", "pending");
  await expect(card.getByTestId("verified-customer")).toHaveCount(0);
  await expect(page.locator('.live-state[data-live="live"]')).toBeVisible();

  // And Alice herself can still approve it.
  const aliceContext = await browser.newContext(phone());
  const alice = await aliceContext.newPage();
  await alice.goto(link);
  await alice
    .getByRole("textbox", { name: "Your email address or phone number" })
    .fill(ALICE.phone);
  const aliceMark = await outbox.mark();
  await alice.getByRole("button", { name: "Send me a code" }).click();
  await expect(alice.getByRole("heading", { name: "Enter the 6-digit code" })).toBeVisible();
  await enterCode(alice, await outbox.code(ALICE.phone, aliceMark));
  await alice.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(alice.getByRole("heading", { name: "Approved" })).toBeVisible();
  await expect(card).toHaveAttribute("data-status", "approved");
  await expect(card.getByTestId("customer-name")).toHaveText(ALICE.name);

  await bobContext.close();
  await aliceContext.close();
});

test("approve with JavaScript off on the phone: plain form posts all the way", async ({
  browser,
  page,
}) => {
  const customerContext = await browser.newContext({ ...phone(), javaScriptEnabled: false });
  const customerResponses = new ResponseRecorder(customerContext);
  await signIn(page);
  await markDocument(page);
  const { flow, card } = await startVerification(page, CAROL.email, "Email");

  const customer = await customerContext.newPage();
  const posts: string[] = [];
  customer.on("request", (request) => {
    if (request.method() === "POST")
      posts.push(`${request.resourceType()} ${new URL(request.url()).pathname}`);
  });
  await customer.goto(await outbox.link(CAROL.email, flow.binding_code));
  await expect(customer.getByTestId("binding-code")).toHaveText(flow.binding_code);
  const otp = await sendCode(customer, outbox, CAROL.email);
  await enterCode(customer, otp);
  await customer.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Approved" })).toBeVisible();
  // Each step was a document navigation (a form post answered 303), not a fetch.
  expect(posts).toEqual([
    "document /api/approval-send-code",
    "document /api/approval-verify-code",
    "document /api/approval-decide",
  ]);

  await expect(card).toHaveAttribute("data-status", "approved");
  await expect(card.getByTestId("customer-name")).toHaveText(CAROL.name);
  expect(await sameDocument(page)).toBe(true);

  // The server-rendered pages after each post hold no secret either.
  await customerResponses.settle();
  const pages = customerResponses.bodies.filter((b) => b.url.includes("/approve?"));
  expect(pages.length).toBeGreaterThanOrEqual(4);
  expect(
    leaks(
      customerResponses.bodies.map((b) => ({
        where: b.url,
        text: b.text,
        built: builtFile(b.url),
      })),
      otp,
    ),
  ).toEqual([]);
  await customerContext.close();
});
