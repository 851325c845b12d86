// The BFF in its `standard` provider profile against panva's oidc-provider (provider.mjs).
//
// run.sh starts both on free loopback ports and passes BFF_URL, PROVIDER_URL and CLIENT_SECRET.
// The test plays the agent's browser (following redirects itself, with a cookie jar) and the
// customer's device (through provider.mjs's admin API):
//
// 1. an agent signs in: the BFF's /auth/login, oidc-provider's login and consent pages, and the
//    BFF's /auth/callback, which must set the session cookie;
// 2. a verification by email address is started through the console's server function, approved
//    on the provider's side, and followed on the BFF's event stream until the customer is
//    verified (the BFF validated oidc-provider's ID token);
// 3. a verification by phone number is denied and ends `denied`;
// 4. nothing the browser received holds a token, an auth_req_id or the client secret.
//
// The two verifications each wait for the BFF's first poll, `interval` (5) seconds after the
// request started, so they run concurrently. With DELIVERY=ping, the BFF is in ping mode: each
// outcome must come from oidc-provider's ping (relayed to /ciba/notify, answered 204), with no
// poll before it that found the request pending.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const BFF = process.env.BFF_URL;
const PROVIDER = process.env.PROVIDER_URL;
const CLIENT_SECRET = process.env.CLIENT_SECRET;
const PING = process.env.DELIVERY === 'ping';
if (!BFF || !PROVIDER || !CLIENT_SECRET) {
  console.error('BFF_URL, PROVIDER_URL or CLIENT_SECRET is not set: run this through run.sh');
  process.exit(2);
}

// An upper bound for one flow, from start to outcome.
const FLOW_LIMIT_MS = 30_000;
// What a JWT (or JWE) looks like: a base64url JSON object, then a dot.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]+\./;

/**
 * A browser's cookie store, just enough for these two servers: cookies per origin (each
 * server keeps its own), `Path` matching, removal by `Max-Age`/`Expires`, and the `__Host-`
 * prefix's rules, which a browser enforces by dropping the cookie.
 */
class CookieJar {
  #cookies = new Map();

  /** Keeps the cookies `response` (from `url`) sets. */
  store(url, response) {
    const { origin, pathname } = new URL(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributeParts] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const attributes = new Map(
        attributeParts.map((part) => {
          const [key, ...rest] = part.split('=');
          return [key.trim().toLowerCase(), rest.join('=').trim()];
        }),
      );
      const path = attributes.get('path')?.startsWith('/')
        ? attributes.get('path')
        : pathname.slice(0, Math.max(pathname.lastIndexOf('/'), 1));
      if (name.startsWith('__Host-')) {
        assert.ok(
          attributes.has('secure') && path === '/' && !attributes.has('domain'),
          `${name}: a __Host- cookie needs Secure, Path=/ and no Domain (${line})`,
        );
      }
      const maxAge = attributes.has('max-age') ? Number(attributes.get('max-age')) : undefined;
      const expires = attributes.has('expires') ? Date.parse(attributes.get('expires')) : undefined;
      const gone = maxAge !== undefined ? maxAge <= 0 : expires !== undefined && expires <= Date.now();
      const key = `${origin} ${path} ${name}`;
      if (gone) {
        this.#cookies.delete(key);
      } else {
        this.#cookies.set(key, { origin, path, name, value });
      }
    }
  }

  /** The `Cookie` header for a request to `url`, or undefined. */
  header(url) {
    const { origin, pathname } = new URL(url);
    const matches = (path) => pathname === path
      || (pathname.startsWith(path) && (path.endsWith('/') || pathname[path.length] === '/'));
    const pairs = [...this.#cookies.values()]
      .filter((cookie) => cookie.origin === origin && matches(cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }

  /** The value of the cookie `name` for `url`'s origin, if any. */
  get(url, name) {
    const { origin } = new URL(url);
    return [...this.#cookies.values()].find((c) => c.origin === origin && c.name === name)?.value;
  }
}

/** Everything the BFF sent to the browser (bodies, redirects, event frames), for the leak check. */
const seenFromBff = [];

/**
 * A browser request to `url` without following redirects: cookies from and into `jar`, and on
 * anything but GET the `Origin` a browser sends (the BFF refuses state changes without it).
 * Answers `{ status, location, body, response }`.
 */
async function browse(jar, url, { method = 'GET', form, headers = {} } = {}) {
  const target = new URL(url);
  const request = { accept: 'text/html,application/json', ...headers };
  const cookie = jar.header(target);
  if (cookie) request.cookie = cookie;
  if (method !== 'GET') request.origin = target.origin;
  let body;
  if (form) {
    request['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(target, { method, headers: request, body, redirect: 'manual' });
  jar.store(target, response);
  const text = await response.text();
  const location = response.headers.get('location');
  if (target.origin === new URL(BFF).origin) {
    seenFromBff.push(`${method} ${target.pathname}: ${location ?? ''}\n${text}`);
  }
  return {
    status: response.status,
    location: location ? new URL(location, target).href : undefined,
    body: text,
    response,
  };
}

/** `&amp;`-style entities of an HTML attribute, decoded. */
function unescapeHtml(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * Signs `login` in through the BFF with oidc-provider's development pages: answers the BFF's
 * answer to the callback. The session cookie, if any, is in `jar`.
 */
async function signIn(jar, login) {
  const start = await browse(jar, `${BFF}/auth/login?return_to=/`);
  assert.equal(start.status, 303, `/auth/login: HTTP ${start.status} ${start.body}`);
  assert.ok(start.location.startsWith(`${PROVIDER}/auth?`), start.location);
  const authorize = new URL(start.location);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');

  let url = start.location;
  const pages = [];
  for (let step = 0; !url.startsWith(`${BFF}/`); step += 1) {
    assert.ok(step < 20, `no way back to the BFF after: ${pages.join(' → ')}`);
    const page = await browse(jar, url);
    pages.push(`${new URL(url).pathname} (${page.status})`);
    if (page.location) {
      url = page.location;
      continue;
    }
    assert.equal(page.status, 200, `${url}: HTTP ${page.status} ${page.body}`);
    // oidc-provider's development login or consent page: one form, with a hidden `prompt`.
    const action = page.body.match(/<form[^>]*action="([^"]+)"/)?.[1];
    const prompt = page.body.match(/name="prompt" value="([a-z]+)"/)?.[1];
    assert.ok(action && prompt, `${url}: not a login or consent page:\n${page.body}`);
    const form = prompt === 'login'
      ? { prompt, login, password: 'any password: development pages check none' }
      : { prompt };
    const submitted = await browse(jar, new URL(unescapeHtml(action), url), { method: 'POST', form });
    assert.ok(submitted.location, `${prompt}: HTTP ${submitted.status} ${submitted.body}`);
    url = submitted.location;
  }

  const callback = new URL(url);
  assert.equal(callback.pathname, '/auth/callback', url);
  // RFC 9207: oidc-provider names itself in the answer, and the BFF checks it.
  assert.equal(callback.searchParams.get('iss'), PROVIDER);
  return browse(jar, url);
}

/** Calls one of the console's server functions (form-encoded POST): answers `{ status, json }`. */
async function serverFn(jar, name, form = {}) {
  const answer = await browse(jar, `${BFF}/api/${name}`, {
    method: 'POST',
    form,
    headers: { accept: 'application/json' },
  });
  let json;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  return { status: answer.status, json, body: answer.body };
}

/** A JSON call to provider.mjs's admin API. */
async function admin(path, json) {
  const response = await fetch(`${PROVIDER}/test-admin/${path}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const body = await response.json();
  return { status: response.status, body };
}

/**
 * Reads the BFF's event stream (from its first stored event) until an event for `flowId` of
 * one of `kinds` arrives; answers that event. Every frame read goes to the leak check.
 */
async function waitForEvent(jar, flowId, kinds) {
  const url = `${BFF}/api/events?after=0`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FLOW_LIMIT_MS);
  const seen = [];
  try {
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', cookie: jar.header(url) },
      signal: abort.signal,
    });
    assert.equal(response.status, 200, `/api/events: HTTP ${response.status}`);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        seenFromBff.push(`event frame:\n${frame}`);
        const fields = { data: [] };
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') fields.data.push(value);
          else fields[field] = value;
        }
        if (!fields.data.length) continue;
        const event = JSON.parse(fields.data.join('\n'));
        assert.equal(fields.event, event.kind, 'the SSE event name is the event kind');
        if (event.flow?.id !== flowId) continue;
        seen.push(event.kind);
        if (kinds.includes(event.kind)) return event;
      }
    }
    assert.fail(`the event stream ended before ${kinds.join(' or ')}; seen: ${seen.join(', ')}`);
  } catch (error) {
    if (abort.signal.aborted) {
      assert.fail(`no ${kinds.join(' or ')} event within ${FLOW_LIMIT_MS} ms; seen: ${seen.join(', ')}`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return undefined;
}

/** Starts a verification through the console's server function; answers the flow. */
async function startVerification(jar, identifier, channel) {
  const { status, json, body } = await serverFn(jar, 'start-verification', {
    'request[identifier]': identifier,
    'request[channel]': channel,
  });
  assert.equal(status, 200, `start-verification: HTTP ${status} ${body}`);
  assert.equal(json.status, 'pending', body);
  assert.match(json.binding_code, /^[A-Z0-9]{3}-[A-Z0-9]{3}$/);
  return json;
}

/** The backchannel request provider.mjs received with `bindingCode`. */
async function receivedRequest(bindingCode) {
  const { body } = await admin('ciba');
  const request = body.find((r) => r.binding_message === bindingCode);
  assert.ok(request, `oidc-provider received no request with ${bindingCode}: ${JSON.stringify(body)}`);
  return request;
}

/**
 * In ping mode: oidc-provider pinged the BFF about `authReqId`, the BFF took the ping, and no
 * poll of it came first (the outcome was fetched because of the ping).
 */
async function assertPinged(authReqId) {
  if (!PING) return;
  const { body: relayed } = await admin('pings');
  const ping = relayed.find((p) => p.auth_req_id === authReqId);
  assert.ok(ping, `no ping for the request: ${JSON.stringify(relayed.map((p) => p.status))}`);
  assert.equal(ping.status, 204, 'the BFF did not take the ping');
  assert.match(ping.authorization, /^Bearer [A-Za-z0-9_-]{43}$/);
  const { body: errors } = await admin('token-errors');
  const pending = errors.filter((e) => e.auth_req_id === authReqId && e.error === 'authorization_pending');
  assert.equal(pending.length, 0, 'the BFF polled before the ping');
}

const agent = new CookieJar();
const SESSION_COOKIE = '__Host-countersign';

describe('the BFF (standard profile) against oidc-provider', () => {
  it('signs an agent in through oidc-provider and keeps none of its tokens', async () => {
    const callback = await signIn(agent, 'agent-avery');
    // A 303 to the console, or a 200 page that moves on to it: the session starts either way.
    assert.ok(
      callback.status === 303 || callback.status === 200,
      `/auth/callback: HTTP ${callback.status} ${callback.body}`,
    );
    if (callback.status === 303) assert.equal(callback.location, `${BFF}/`);
    assert.ok(agent.get(BFF, SESSION_COOKIE), 'the callback set no session cookie');

    const info = await serverFn(agent, 'me');
    assert.equal(info.status, 200, info.body);
    assert.equal(info.json.name, 'Avery Agent');
    assert.equal(info.json.email, 'avery@bank.example');
    assert.equal(info.json.supervisor, false);

    // The BFF revoked the agent's tokens at oidc-provider's revocation endpoint.
    const { body: issued } = await admin('issued');
    const signIns = issued.filter((t) => t.grant_type === 'authorization_code');
    assert.equal(signIns.length, 1, JSON.stringify(signIns.map((t) => t.sub)));
    assert.equal(signIns[0].sub, 'agent-avery');
    assert.equal(signIns[0].access_token_active, false, 'the agent\'s access token was not revoked');
  });

  it('refuses a sign-in by an account without a console role', async () => {
    const customer = new CookieJar();
    const callback = await signIn(customer, 'customer-alice');
    assert.equal(callback.status, 403, callback.body);
    assert.equal(customer.get(BFF, SESSION_COOKIE), undefined);
  });

  describe('verifications', { concurrency: true }, () => {
    it('approved on the provider: the customer is verified from the ID token', async () => {
      const flow = await startVerification(agent, 'Alice@Example.com', 'email');
      assert.equal(flow.hint_type, 'email');
      const request = await receivedRequest(flow.binding_code);
      // Standard CIBA parameters only: the hint as the BFF normalises it, the flow's code.
      assert.equal(request.login_hint, 'alice@example.com');
      assert.equal(request.account_id, 'customer-alice');
      assert.deepEqual(request.scope.split(' ').sort(), ['email', 'openid', 'phone']);

      const decided = await admin('ciba/decide', { binding_message: flow.binding_code, approve: true });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));

      const event = await waitForEvent(agent, flow.id, ['verified', 'denied', 'expired', 'failed']);
      assert.equal(event.kind, 'verified', JSON.stringify(event.flow));
      assert.equal(event.flow.status, 'approved');
      assert.equal(event.flow.outcome, null);
      const { customer } = event.flow;
      assert.equal(customer.user_id, 'customer-alice');
      assert.equal(customer.name, 'Alice Example');
      assert.equal(customer.email, 'a•••e@example.com');
      assert.equal(customer.phone, '•••0101');
      assert.deepEqual(customer.amr, ['pwd']);
      await assertPinged(request.id);

      // The history says the same.
      const list = await serverFn(agent, 'verifications');
      assert.equal(list.status, 200, list.body);
      const listed = list.json.find((f) => f.id === flow.id);
      assert.equal(listed.status, 'approved');
      assert.equal(listed.customer.user_id, 'customer-alice');

      // The CIBA grant's tokens went to the BFF, which keeps them.
      const { body: issued } = await admin('issued');
      const ciba = issued.filter((t) => t.grant_type === 'urn:openid:params:grant-type:ciba');
      assert.deepEqual(ciba.map((t) => t.sub), ['customer-alice']);
      assert.equal(ciba[0].access_token_active, true);
    });

    it('denied on the provider: the flow ends denied', async () => {
      const flow = await startVerification(agent, '+1 555 555 0102', 'sms');
      assert.equal(flow.hint_type, 'phone');
      const request = await receivedRequest(flow.binding_code);
      assert.equal(request.login_hint, '+15555550102');
      assert.equal(request.account_id, 'customer-bob');

      const decided = await admin('ciba/decide', { binding_message: flow.binding_code, approve: false });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));

      const event = await waitForEvent(agent, flow.id, ['verified', 'denied', 'expired', 'failed']);
      assert.equal(event.kind, 'denied', JSON.stringify(event.flow));
      assert.equal(event.flow.status, 'denied');
      assert.equal(event.flow.customer, null);
      await assertPinged(request.id);
    });
  });

  it('sent the browser no token, auth_req_id or client secret', async () => {
    const { body: issued } = await admin('issued');
    const { body: requests } = await admin('ciba');
    const secrets = [
      ['the client secret', CLIENT_SECRET],
      ...issued.flatMap((t) => [
        [`a ${t.grant_type} access token`, t.access_token],
        [`a ${t.grant_type} ID token`, t.id_token],
        [`a ${t.grant_type} refresh token`, t.refresh_token],
      ]),
      ...requests.map((r) => ['an auth_req_id', r.id]),
      ...(await admin('pings')).body.map((p) => [
        'a client_notification_token',
        p.authorization?.replace(/^Bearer /, ''),
      ]),
    ].filter(([, value]) => value);
    assert.ok(issued.length >= 2 && requests.length >= 2, 'the flows above did not run');
    assert.ok(seenFromBff.some((text) => text.startsWith('event frame')), 'no event frame was read');
    for (const text of seenFromBff) {
      assert.doesNotMatch(text, JWT_LIKE, `a JWT-like string reached the browser:\n${text}`);
      for (const [what, value] of secrets) {
        assert.ok(!text.includes(value), `${what} reached the browser:\n${text}`);
      }
    }
  });
});
