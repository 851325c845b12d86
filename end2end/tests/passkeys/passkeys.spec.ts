// Customers' passkeys on the approval page, against the server browsed as `localhost` (passkeys
// need a domain). Each phone has a virtual authenticator (Chrome DevTools Protocol, WebAuthn
// domain) standing in for its screen lock: it holds the passkeys it makes, and always verifies
// the user. The tests run in order: the later ones use the passkey the first one adds.
import { type CDPSession, type Page, expect, test } from "@playwright/test";

import {
  ALICE,
  BOB,
  CAROL,
  Outbox,
  cancel,
  enterCode,
  phone,
  recordFetches,
  sendCode,
  signIn,
  startVerification,
  watch,
} from "../verify/support";

test.describe.configure({ mode: "serial" });

const outbox = new Outbox(`http://127.0.0.1:${process.env.E2E_PASSKEY_PROVIDER_PORT}`);
const port = process.env.E2E_PASSKEY_PORT;

/** A credential as `WebAuthn.getCredentials` answers it. */
type Credential = {
  credentialId: string;
  isResidentCredential: boolean;
  rpId: string;
  privateKey: string;
  userHandle: string;
  signCount: number;
};

/** A phone's screen lock: a platform authenticator that verifies its user. */
async function screenLock(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function credentials(lock: { cdp: CDPSession; id: string }): Promise<Credential[]> {
  const { credentials } = await lock.cdp.send("WebAuthn.getCredentials", {
    authenticatorId: lock.id,
  });
  return credentials as Credential[];
}

/** Signs in with a code, adds a passkey on the decision screen, and approves. */
async function addPasskey(customer: Page, to: string) {
  const otp = await sendCode(customer, outbox, to);
  await enterCode(customer, otp);
  await expect(
    customer.getByRole("heading", { name: "Next time, use this phone's screen lock" }),
  ).toBeVisible();
  await customer.getByRole("button", { name: "Add a passkey" }).click();
  await expect(customer.getByText("Passkey added.")).toBeVisible();
  await expect(customer.getByRole("button", { name: "Add a passkey" })).toHaveCount(0);
  await customer.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Approved" })).toBeVisible();
}

test("the passkey's script is fetched only where one is offered, stays within the 30 KB, and without scripts the page is the code sign-in", async ({
  browser,
  page,
}) => {
  await signIn(page);
  const { flow, card } = await startVerification(page, CAROL.email, "Email");
  const link = await outbox.link(CAROL.email, flow.binding_code);

  const device = await browser.newContext(phone());
  const customer = await device.newPage();
  const fetched = recordFetches(customer);
  await customer.goto(link, { waitUntil: "networkidle" });
  await expect(customer.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
  const paths = fetched.map((f) => f.path);
  expect(paths).toContain("/passkey.js");
  expect(paths.filter((p) => p.endsWith(".wasm"))).toEqual([]);
  expect(await customer.locator('script[src="/passkey.js"]').getAttribute("defer")).not.toBeNull();
  const total = fetched.reduce((sum, f) => sum + f.bytes, 0);
  expect(total, JSON.stringify(fetched)).toBeLessThanOrEqual(30 * 1024);
  // A broken link offers nothing, and fetches no script.
  fetched.length = 0;
  await customer.goto("/approve", { waitUntil: "networkidle" });
  await expect(customer.getByRole("heading", { name: "This link does not work" })).toBeVisible();
  expect(fetched.map((f) => f.path)).not.toContain("/passkey.js");
  await device.close();

  // Scripts blocked: no passkey button, and the code sign-in works as ever.
  const noScripts = await browser.newContext({ ...phone(), javaScriptEnabled: false });
  const plain = await noScripts.newPage();
  await plain.goto(link);
  await expect(plain.getByRole("button", { name: /^Send a code to / })).toBeVisible();
  await expect(plain.getByRole("button", { name: "Sign in with a passkey" })).toBeHidden();
  const otp = await sendCode(plain, outbox, CAROL.email);
  await enterCode(plain, otp);
  await expect(plain.getByRole("button", { name: "Add a passkey" })).toBeHidden();
  await noScripts.close();
  await cancel(card);
});

// Alice's passkey, as her phone's authenticator keeps it (for the second test's forgery).
let alicePasskey: Credential | undefined;

test("a passkey added after a code sign-in approves the next request alone, and the agent sees it", async ({
  browser,
  page,
}) => {
  const phoneContext = await browser.newContext(phone());
  const problems = watch(phoneContext);
  await signIn(page);

  // First request: the code, then "Next time, use this phone's screen lock".
  const first = await startVerification(page, ALICE.email, "Email");
  const customer = await phoneContext.newPage();
  const lock = await screenLock(customer);
  await customer.goto(await outbox.link(ALICE.email, first.flow.binding_code));
  // Never used here: the code comes first, the passkey is offered after it.
  const codeButton = customer.getByRole("button", { name: /^Send a code to / });
  const passkeyButton = customer.getByRole("button", { name: "Sign in with a passkey" });
  await expect(codeButton).toBeVisible();
  await expect(passkeyButton).toBeVisible();
  expect((await codeButton.boundingBox())!.y).toBeLessThan((await passkeyButton.boundingBox())!.y);
  await addPasskey(customer, ALICE.email);
  await expect(first.card).toHaveAttribute("data-status", "approved");
  const made = await credentials(lock);
  expect(made).toHaveLength(1);
  expect(made[0].rpId).toBe("localhost");

  // Second request: the passkey first, and no code at all.
  const second = await startVerification(page, ALICE.email, "Email");
  const link = await outbox.link(ALICE.email, second.flow.binding_code);
  const mark = await outbox.mark();
  await customer.goto(link);
  await expect(passkeyButton).toBeVisible();
  await expect(codeButton).toBeVisible();
  expect((await passkeyButton.boundingBox())!.y).toBeLessThan((await codeButton.boundingBox())!.y);
  await passkeyButton.click();
  await expect(customer.getByRole("heading", { name: "Approve this request?" })).toBeVisible();
  // Signed in with a passkey: nothing more to add.
  await expect(customer.getByRole("button", { name: "Add a passkey" })).toHaveCount(0);
  await expect(second.card.getByTestId("flow-status")).toHaveText(
    "The customer signed in and is deciding.",
  );
  await customer.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(customer.getByRole("heading", { name: "Approved" })).toBeVisible();
  await expect(second.card).toHaveAttribute("data-status", "approved");
  const verified = second.card.getByTestId("verified-customer");
  await expect(verified.getByTestId("customer-id")).toHaveText(ALICE.id);
  await expect(verified).toContainText("hardware key, user presence");
  expect((await outbox.all()).filter((m) => m.id > mark && m.to === ALICE.email)).toEqual([]);
  const used = await credentials(lock);
  expect(used[0].signCount).toBeGreaterThan(made[0].signCount);
  // Kept as it is now: a copy must go on from the counter the provider last saw.
  alicePasskey = used[0];

  await phoneContext.close();
  expect(problems).toEqual([]);
});

test("an assertion made on another origin, for another RP id, is refused and signs nobody in", async ({
  browser,
  page,
}) => {
  expect(alicePasskey, "the first test added Alice's passkey").toBeDefined();
  const phoneContext = await browser.newContext(phone());
  await signIn(page);
  const { flow, card } = await startVerification(page, ALICE.email, "Email");
  const customer = await phoneContext.newPage();
  await customer.goto(await outbox.link(ALICE.email, flow.binding_code));
  await expect(customer.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();

  // The real page begins the ceremony (the challenge is the provider's, for Alice)...
  const options = await customer.evaluate(async () => {
    const form = document.querySelector("[data-passkey-start]")!.closest("form")!;
    const fields = new URLSearchParams();
    new FormData(form).forEach((value, name) => {
      if (name !== "credential") fields.append(name, value as string);
    });
    const answer = await fetch("/api/approval-passkey-options", { method: "POST", body: fields });
    return JSON.parse(await answer.json()).publicKey;
  });
  expect(options.rpId).toBe("localhost");

  // ...and a look-alike site signs it with Alice's own key, under its own name.
  const lookAlike = await phoneContext.newPage();
  const lock = await screenLock(lookAlike);
  await lock.cdp.send("WebAuthn.addCredential", {
    authenticatorId: lock.id,
    credential: { ...alicePasskey!, rpId: "other.localhost" },
  });
  await lookAlike.goto(`http://other.localhost:${port}/healthz`);
  const forged = await lookAlike.evaluate(
    async ({ challenge, id }) => {
      const bytes = (text: string) =>
        Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      const text = (buffer: ArrayBuffer | null) =>
        buffer &&
        btoa(String.fromCharCode(...new Uint8Array(buffer)))
          .replace(/\+/g, "-")
          .replace(/\//g, "_")
          .replace(/=+$/, "");
      const made = (await navigator.credentials.get({
        publicKey: {
          challenge: bytes(challenge),
          rpId: "other.localhost",
          allowCredentials: [{ type: "public-key", id: bytes(id) }],
          userVerification: "required",
        },
      })) as PublicKeyCredential;
      const response = made.response as AuthenticatorAssertionResponse;
      return JSON.stringify({
        id: made.id,
        rawId: text(made.rawId),
        type: made.type,
        response: {
          clientDataJSON: text(response.clientDataJSON),
          authenticatorData: text(response.authenticatorData),
          signature: text(response.signature),
          userHandle: text(response.userHandle),
        },
        extensions: {},
      });
    },
    { challenge: options.challenge, id: options.allowCredentials[0].id },
  );

  // Posted to the real page: refused, the customer is not signed in, the request still waits.
  await customer.evaluate((credential) => {
    const form = document.querySelector("[data-passkey-start]")!.closest("form")!;
    (form.elements.namedItem("credential") as HTMLInputElement).value = credential;
    form.submit();
  }, forged);
  await expect(customer.getByText("That passkey did not work here.")).toBeVisible();
  await expect(customer.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await expect(card.getByTestId("flow-status")).toHaveText("The customer opened the link.");
  await expect(card).toHaveAttribute("data-status", "pending");

  // The customer's own passkey still works after it: nothing was locked.
  const own = await screenLock(customer);
  await own.cdp.send("WebAuthn.addCredential", {
    authenticatorId: own.id,
    credential: alicePasskey!,
  });
  await customer.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(customer.getByRole("heading", { name: "Approve this request?" })).toBeVisible();
  await customer.getByRole("button", { name: "Deny" }).click();
  await expect(customer.getByRole("heading", { name: "Denied" })).toBeVisible();
  await expect(card).toHaveAttribute("data-status", "denied");
  await phoneContext.close();
});

test("customer B's passkey on customer A's user-id request is refused", async ({
  browser,
  page,
}) => {
  await signIn(page);
  // Bob adds a passkey on his own phone, on a request for him.
  const bobPhone = await browser.newContext(phone());
  const bob = await bobPhone.newPage();
  const lock = await screenLock(bob);
  const own = await startVerification(page, BOB.email, "Email");
  await bob.goto(await outbox.link(BOB.email, own.flow.binding_code));
  await addPasskey(bob, BOB.email);
  const bobs = await credentials(lock);
  expect(bobs).toHaveLength(1);
  const bobsId = bobs[0].credentialId.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  // A request for Alice by user id; its link reaches Bob. His phone is made to offer his own
  // passkey in place of Alice's (the options' list is swapped), and he uses it.
  const { flow, card } = await startVerification(page, ALICE.id, "Link / QR code");
  expect(flow.link).not.toBeNull();
  await bob.route("**/api/approval-passkey-options", async (route) => {
    const answer = await route.fetch();
    const options = JSON.parse(await answer.json());
    const alices = options.publicKey.allowCredentials;
    expect(alices.length).toBeGreaterThan(0);
    expect(alices.map((c: { id: string }) => c.id)).not.toContain(bobsId);
    options.publicKey.allowCredentials = [{ type: "public-key", id: bobsId }];
    await route.fulfill({ response: answer, json: JSON.stringify(options) });
  });
  await bob.goto(flow.link as string);
  await bob.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(bob.getByText("That passkey did not work here.")).toBeVisible();
  await expect(bob.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await expect(card).toHaveAttribute("data-status", "pending");
  await expect(card.getByTestId("flow-status")).toHaveText("The customer opened the link.");
  await card.getByRole("button", { name: /^Cancel/ }).click();
  await expect(card).toHaveAttribute("data-status", "cancelled");
  await bobPhone.close();
});
