// Shared pieces of the two-device tests: a desktop agent at the console and a customer on a
// (mobile-emulated) phone, who reads links and one-time codes from the embedded provider's
// development outbox.
import {
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
  devices,
  expect,
} from "@playwright/test";

// The demo seed's accounts (provider/seed/demo.toml); loopback demos only.
export const AGENT = {
  email: "agent@demo.bank",
  password: "agent-demo-password",
  name: "Avery Agent",
};
export const SUPERVISOR = {
  email: "supervisor@demo.bank",
  password: "supervisor-demo-password",
  name: "Sam Supervisor",
};
export const ALICE = {
  id: "alice",
  name: "Alice Anders",
  email: "alice@example.com",
  phone: "+15555550101",
};
export const BOB = {
  id: "bob",
  name: "Bob Brandt",
  email: "bob@example.com",
  phone: "+15555550102",
};
export const CAROL = { id: "carol", name: "Carol Castillo", email: "carol@example.com" };

export type Account = { email: string; password: string; name: string };
export type Channel = "Text message" | "Email" | "Link / QR code";

/** A flow as `start-verification` answers it (the fields the tests use). */
export type Flow = { id: string; binding_code: string; status: string; link: string | null };

/** One message of the development outbox. */
export type Message = {
  id: number;
  channel: "sms" | "email";
  to: string;
  subject: string | null;
  body: string;
  link: string | null;
  created_at: number;
};

/** The development outbox of the embedded provider at `providerURL`. */
export class Outbox {
  constructor(readonly providerURL: string) {}

  /** Every message, newest first. */
  async all(): Promise<Message[]> {
    const response = await fetch(`${this.providerURL}/dev/outbox.json`);
    expect(response.status, "the development outbox answers").toBe(200);
    return (await response.json()) as Message[];
  }

  /** The highest message id so far (0 when empty): later messages are newer. */
  async mark(): Promise<number> {
    return (await this.all()).reduce((max, message) => Math.max(max, message.id), 0);
  }

  /** Waits for the newest message that `matches`, newer than `after`. */
  async waitFor(matches: (message: Message) => boolean, after = 0): Promise<Message> {
    let found: Message | undefined;
    await expect
      .poll(
        async () => {
          found = (await this.all()).find((message) => message.id > after && matches(message));
          return found !== undefined;
        },
        { message: "a matching message reaches the development outbox" },
      )
      .toBe(true);
    return found as Message;
  }

  /** The link of the request whose binding code is `code`, sent to `to`. */
  async link(to: string, code: string): Promise<string> {
    const message = await this.waitFor(
      (m) => m.to === to && m.link !== null && m.link.includes(`binding_message=${code}`),
    );
    return message.link as string;
  }

  /** The one-time code sent to `to` after message `after`. */
  async code(to: string, after: number): Promise<string> {
    const message = await this.waitFor(
      (m) => m.to === to && m.link === null && /\b\d{6}\b/.test(m.body),
      after,
    );
    return (message.body.match(/\b(\d{6})\b/) as RegExpMatchArray)[1];
  }
}

/** Pixel 7 emulation in the configured Chromium (the device's browser type is dropped). */
export function phone(): Parameters<Browser["newContext"]>[0] {
  const { defaultBrowserType: _, ...pixel } = devices["Pixel 7"];
  return pixel;
}

/** Collects page errors and console errors of every page of `context`, to assert none happened. */
export function watch(context: BrowserContext): string[] {
  const problems: string[] = [];
  const follow = (page: Page) => {
    page.on("pageerror", (error) => problems.push(`${page.url()}: page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error")
        problems.push(`${page.url()}: console error: ${message.text()}`);
    });
  };
  context.pages().forEach(follow);
  context.on("page", follow);
  return problems;
}

/** Signs in from the console's sign-in link, through the embedded provider's page, and back. */
export async function signIn(page: Page, account: Account = AGENT) {
  await page.goto("/");
  const consoleOrigin = new URL(page.url()).origin;
  await page.getByRole("link", { name: "Sign in" }).click();
  // The provider's own sign-in page, on the provider's origin.
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/authorize\?/);
  expect(new URL(page.url()).origin).not.toBe(consoleOrigin);
  await page.getByLabel("Work email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL("/");
  await expect(page.getByTestId("agent-name")).toHaveText(account.name);
  // Hydrated: the submit button is enabled only then; the stream is open once "Live".
  await expect(page.getByRole("button", { name: "Send verification" })).toBeEnabled();
  await expect(page.locator('.live-state[data-live="live"]')).toBeVisible();
}

/** Starts a verification from the console; answers the flow and its card. */
export async function startVerification(
  page: Page,
  identifier: string,
  channel?: Channel,
  ticket?: string,
): Promise<{ flow: Flow; card: Locator }> {
  await page.getByLabel("Customer's email, phone number or user id").fill(identifier);
  if (ticket !== undefined) {
    await page.getByLabel("Ticket or call id").fill(ticket);
  }
  if (channel) {
    await page.getByRole("radio", { name: channel }).check();
  }
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.url().endsWith("/api/start-verification") && r.request().method() === "POST",
    ),
    page.getByRole("button", { name: "Send verification" }).click(),
  ]);
  expect(response.status(), "the verification starts").toBe(200);
  const flow = (await response.json()) as Flow;
  expect(flow.status).toBe("pending");
  // Other tests' cards may be on the same console: the card is found by its flow id.
  const card = cardOf(page, flow.id);
  await expect(card).toHaveAttribute("data-status", "pending");
  await expect(card.getByTestId("binding-code").locator("[aria-hidden]")).toHaveText(
    flow.binding_code,
  );
  // Read aloud: every letter with its spelling-alphabet word, every digit as it is.
  const reading = flow.binding_code
    .split("-")
    .map((group) =>
      [...group].map((c) => (/\d/.test(c) ? c : `${c} as in ${c}[a-z-]+`)).join(", "),
    )
    .join(" — ");
  await expect(card.getByTestId("binding-reading")).toHaveText(new RegExp(`^${reading}$`));
  return { flow, card };
}

/** The live card of flow `id`. */
export function cardOf(page: Page, id: string): Locator {
  return page.locator(`[data-testid="flow-card"][data-flow="${id}"]`);
}

/** Cancels a still-pending flow from its card (tests leave no verification waiting). */
export async function cancel(card: Locator) {
  await card.getByRole("button", { name: /^Cancel/ }).click();
  await expect(card).toHaveAttribute("data-status", "cancelled");
}

/** The customer's steps on the approval page, from the link to the 6-digit-code screen. */
export async function sendCode(customer: Page, outbox: Outbox, to: string): Promise<string> {
  const mark = await outbox.mark();
  await customer.getByRole("button", { name: /^Send a code to / }).click();
  await expect(customer.getByRole("heading", { name: "Enter the 6-digit code" })).toBeVisible();
  return outbox.code(to, mark);
}

/** Types the one-time code and continues to the decision. */
export async function enterCode(customer: Page, code: string) {
  await customer.getByRole("textbox", { name: "6-digit code" }).fill(code);
  await customer.getByRole("button", { name: "Continue" }).click();
  await expect(customer.getByRole("heading", { name: "Approve this request?" })).toBeVisible();
}

/** What `page` fetches from now on: each answer's path and its bytes as sent (headers and body). */
export function recordFetches(page: Page): { path: string; bytes: number }[] {
  const fetched: { path: string; bytes: number }[] = [];
  page.on("requestfinished", async (request) => {
    const sizes = await request.sizes();
    fetched.push({
      path: new URL(request.url()).pathname,
      bytes: sizes.responseHeadersSize + sizes.responseBodySize,
    });
  });
  return fetched;
}

/** Marks the page so that a later check can tell it was never reloaded or left. */
export async function markDocument(page: Page) {
  await page.evaluate(() => {
    (window as unknown as { __e2eSameDocument: boolean }).__e2eSameDocument = true;
  });
}

export async function sameDocument(page: Page): Promise<boolean> {
  return page.evaluate(
    () => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument === true,
  );
}

/** Every response body a context receives (event streams excepted: they never end). */
export class ResponseRecorder {
  readonly bodies: { url: string; type: string; text: string }[] = [];
  private readonly pending: Promise<void>[] = [];

  constructor(context: BrowserContext) {
    context.on("response", (response) => {
      const type = response.headers()["content-type"] ?? "";
      if (type.startsWith("text/event-stream")) return;
      this.pending.push(
        response.body().then(
          (body) => {
            // latin1 keeps every byte (wasm too) as one character, so ASCII patterns match.
            this.bodies.push({ url: response.url(), type, text: body.toString("latin1") });
          },
          // Redirects have no body; a page that navigated away may drop one.
          () => {},
        ),
      );
    });
  }

  /** Waits for every body seen so far. */
  async settle() {
    await Promise.all(this.pending);
  }
}

/**
 * Reads `/api/events` in the agent's page with the page's own session cookie (the browser
 * sends it; a test never sees it), from now on, into `window.__e2eEvents`.
 */
export async function followEvents(page: Page) {
  await page.evaluate(async () => {
    const state = { text: "", done: false };
    (window as unknown as { __e2eEvents: typeof state }).__e2eEvents = state;
    const response = await fetch("/api/events", { headers: { accept: "text/event-stream" } });
    if (!response.ok || !response.body) {
      state.text = `HTTP ${response.status}`;
      state.done = true;
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        state.text += decoder.decode(value, { stream: true });
      }
      state.done = true;
    })();
  });
}

/** What `followEvents` has read so far. */
export async function eventsText(page: Page): Promise<string> {
  return page.evaluate(
    () => (window as unknown as { __e2eEvents?: { text: string } }).__e2eEvents?.text ?? "",
  );
}

/** The SSE frames of `text` (blocks separated by a blank line), comments and `retry:` left out. */
export function frames(text: string): string[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((block) => block.trim())
    .filter((block) => /^(id|event|data):/m.test(block));
}

export const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
export const CLIENT_SECRET = "demo-console-secret";

/** `code` as a whole number in `text` (not inside a longer run of digits, such as a timestamp). */
export function containsCode(text: string, code: string): boolean {
  return new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text);
}

/** Whether `url` is one of the build's files (`/pkg/…`: the wasm, its JS glue, the CSS). */
export function builtFile(url: string): boolean {
  return new URL(url).pathname.startsWith("/pkg/");
}

/**
 * What of `texts` holds a JWT, the client secret or the one-time code `otp`, as sentences.
 *
 * Every text is searched for a JWT and the client secret. The code is searched for in what was
 * made while the test ran (pages, server-function answers, SSE frames), not in the build's files
 * (`built`): those were written before the code existed, so it cannot be in them, and a debug
 * wasm read as bytes holds thousands of six-digit runs (hex symbol hashes), one of which equals a
 * random code now and then.
 */
export function leaks(
  texts: { where: string; text: string; built?: boolean }[],
  otp: string,
): string[] {
  return texts.flatMap(({ where, text, built }) => [
    ...(JWT.test(text) ? [`${where}: a JWT`] : []),
    ...(text.includes(CLIENT_SECRET) ? [`${where}: the client secret`] : []),
    ...(!built && containsCode(text, otp) ? [`${where}: the one-time code`] : []),
  ]);
}
