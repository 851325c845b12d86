// The embedded provider's CIBA poll flow, driven by panva's certified openid-client (v6).
//
// run.sh starts a fresh countersign-provider and passes its issuer in COUNTERSIGN_ISSUER. The
// client does everything a relying party does through openid-client's own API (discovery,
// backchannel authentication, polling, ID token validation); only the customer's side (one-time
// code, decision) and one deliberately invalid request are plain fetch calls, as they are not
// part of the client's protocol.
//
// The three flows (approve, deny, expiry) each wait for openid-client's first poll, which it
// makes `interval` (5) seconds after the request started, so they run concurrently: about 5 s
// in all instead of 15. They touch different customers or do not sign anyone in, so they cannot
// disturb each other.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as client from 'openid-client';
import * as jose from 'jose';

import {
  CLIENT_ID, CLIENT_SECRET, ISSUER,
  describeError, discoverBasicAndPost, nowSeconds, verifyIdTokenWithJose,
} from './common.mjs';

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
// An upper bound for one flow; past it the poll is aborted and the case fails instead of hanging
// for the request's ten-minute lifetime.
const FLOW_LIMIT_MS = 30_000;

/** openid-client configurations: one per client authentication method the provider offers. */
let basic;
let post;

/** JSON request to the provider; answers `{status, body}`. */
async function call(path, { method = 'POST', token, json } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, ISSUER), {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

function expectOk(what, { status, body }) {
  assert.equal(status, 200, `${what}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

/** The newest outbox message id, so that later messages can be told apart. */
async function lastMessageId() {
  const messages = expectOk('outbox', await call('/dev/outbox.json', { method: 'GET' }));
  return messages.reduce((max, m) => Math.max(max, m.id), 0);
}

/**
 * The customer's side, as the approval page does it: a one-time code by email, read from the
 * development outbox, exchanged for the customer's own access token, which then records the
 * decision. Answers the customer's sign-in (its ID token's claims) and the decision's answer.
 */
async function decide(config, email, authReqId, approved) {
  // A client access token for the one-time-login API, through openid-client.
  const { access_token: clientToken } = await client.clientCredentialsGrant(config);

  const since = await lastMessageId();
  expectOk(
    'otp/send',
    await call('/cis/v1/auth/otp/send', {
      token: clientToken,
      json: { channel: 'email', identifier_type: 'email', identifier: email },
    }),
  );
  // Newest first; the code message is the new one to this customer without a link.
  const messages = expectOk('outbox', await call('/dev/outbox.json', { method: 'GET' }));
  const sent = messages.find((m) => m.id > since && m.to === email && m.link === null);
  assert.ok(sent, `no one-time code to ${email} in the outbox: ${JSON.stringify(messages)}`);
  const code = sent.body.match(/\b(\d{6})\b/)?.[1];
  assert.ok(code, `no 6-digit code in ${JSON.stringify(sent.body)}`);

  const login = expectOk(
    'otp/authenticate',
    await call('/cis/v1/auth/otp/authenticate', {
      token: clientToken,
      json: { identifier_type: 'email', identifier: email, passcode: code },
    }),
  );
  assert.equal(typeof login.access_token, 'string', 'otp/authenticate: no access_token');

  const decision = expectOk(
    'backchannel/complete',
    await call('/cis/auth/backchannel/complete', {
      token: login.access_token,
      json: { auth_req_id: authReqId, approved },
    }),
  );
  return { signIn: jose.decodeJwt(login.id_token), decision };
}

/**
 * Polls with openid-client while `customer` acts; aborts the poll if the customer's side fails
 * or the flow takes longer than FLOW_LIMIT_MS. Answers the poll's outcome as a settled result.
 */
async function pollWhile(config, started, customer) {
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(FLOW_LIMIT_MS)]);
  const polling = client
    .pollBackchannelAuthenticationGrant(config, started, undefined, { signal })
    .then((value) => ({ value }), (error) => ({ error }));
  let acted;
  try {
    acted = await customer();
  } catch (error) {
    stop.abort();
    await polling;
    throw error;
  }
  return { ...(await polling), acted };
}

describe('openid-client 6 against countersign-provider', { concurrency: true }, () => {
  before(async () => {
    [basic, post] = await discoverBasicAndPost();
  });

  it('discovery: CIBA poll metadata', () => {
    const metadata = basic.serverMetadata();
    assert.equal(metadata.issuer, ISSUER);
    assert.equal(metadata.backchannel_authentication_endpoint, `${ISSUER}/cis/oidc/backchannel`);
    assert.ok(metadata.backchannel_token_delivery_modes_supported?.includes('poll'), 'no poll mode');
    assert.ok(metadata.grant_types_supported?.includes(CIBA_GRANT), 'no CIBA grant type');
    assert.equal(typeof metadata.token_endpoint, 'string');
    assert.equal(typeof metadata.jwks_uri, 'string');
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      assert.ok(metadata.token_endpoint_auth_methods_supported?.includes(method), `no ${method}`);
    }
  });

  it('approve: poll yields verified tokens, auth_req_id is single use', { timeout: FLOW_LIMIT_MS }, async () => {
    const startedAt = nowSeconds();
    const started = await client.initiateBackchannelAuthentication(basic, {
      scope: 'openid email',
      login_hint: 'alice@example.com',
      binding_message: 'K7-42',
      request_context: JSON.stringify({ channel: 'email', login_hint_type: 'email' }),
    });
    assert.equal(typeof started.auth_req_id, 'string');
    assert.equal(started.expires_in, 600);
    assert.equal(started.interval, 5);

    const { value: tokens, error, acted } = await pollWhile(basic, started, () =>
      decide(basic, 'alice@example.com', started.auth_req_id, true),
    );
    assert.deepEqual(acted.decision, { status: 'approved' });
    assert.ok(!error, `the poll failed: ${describeError(error)}`);

    // openid-client validated the ID token before answering (iss, aud, exp, iat, sub, the
    // required auth_time, and the signature); these check what it validated against.
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(tokens.token_type, 'bearer');
    const claims = tokens.claims();
    assert.ok(claims, 'no ID token');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iss, ISSUER);
    assert.ok([claims.aud].flat().includes(CLIENT_ID), `aud ${JSON.stringify(claims.aud)}`);
    assert.equal(claims.email, 'alice@example.com');
    // auth_time and amr are the customer's sign-in that approved, not the moment of the poll.
    assert.ok(Array.isArray(claims.amr) && claims.amr.includes('otp'), `amr ${JSON.stringify(claims.amr)}`);
    assert.deepEqual(claims.amr, acted.signIn.amr);
    assert.equal(claims.auth_time, acted.signIn.auth_time);
    assert.ok(claims.auth_time >= startedAt && claims.auth_time <= claims.iat, 'auth_time out of range');

    // The signature once more, independently of openid-client, with jose against the JWKS;
    // and the same token with its payload changed must fail that very check.
    await verifyIdTokenWithJose(basic, tokens.id_token, { sub: 'alice', tamper: { sub: 'bob' } });

    // The access token is the customer's: userinfo answers for alice (openid-client checks sub).
    const userinfo = await client.fetchUserInfo(basic, tokens.access_token, 'alice');
    assert.equal(userinfo.sub, 'alice');

    // A second redemption of the same auth_req_id is refused (CIBA Core §11: invalid_grant).
    const again = await fetch(basic.serverMetadata().token_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id }),
    });
    const body = await again.json();
    assert.equal(again.status, 400, `second redemption: HTTP ${again.status} ${JSON.stringify(body)}`);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(body.access_token, undefined);
  });

  it('deny: poll rejects with access_denied', { timeout: FLOW_LIMIT_MS }, async () => {
    // bob, and client_secret_post this time: independent of the approve case running alongside.
    const started = await client.initiateBackchannelAuthentication(post, {
      scope: 'openid',
      login_hint: 'bob@example.com',
      binding_message: 'D3-11',
      request_context: JSON.stringify({ channel: 'email', login_hint_type: 'email' }),
    });
    const { value, error, acted } = await pollWhile(post, started, () =>
      decide(post, 'bob@example.com', started.auth_req_id, false),
    );
    assert.deepEqual(acted.decision, { status: 'denied' });
    assert.ok(!value, `tokens were issued for a denied request: ${JSON.stringify(value)}`);
    assert.ok(error instanceof client.ResponseBodyError, describeError(error));
    assert.equal(error.error, 'access_denied', describeError(error));
    assert.equal(error.status, 400);
  });

  it('expiry: poll after requested_expiry rejects with expired_token', { timeout: FLOW_LIMIT_MS }, async () => {
    // The smallest lifetime the provider accepts (a whole number of seconds above 0).
    const started = await client.initiateBackchannelAuthentication(basic, {
      scope: 'openid',
      login_hint: 'alice',
      request_context: JSON.stringify({ channel: 'link', login_hint_type: 'user_id' }),
      requested_expiry: '1',
    });
    assert.equal(started.expires_in, 1);
    // A real wait: the provider is a separate process on the system clock, so there is no clock
    // to advance (the Rust tests cover expiry on a manual clock). openid-client makes its first
    // poll `interval` (5) seconds in, well after the request expired. By default it would give
    // up by itself after `expires_in` without asking the provider; a longer signal of our own
    // makes it ask, so that the provider's answer is what is tested.
    const { value, error } = await pollWhile(basic, started, async () => {});
    assert.ok(!value, `tokens were issued for an expired request: ${JSON.stringify(value)}`);
    assert.ok(error instanceof client.ResponseBodyError, describeError(error));
    assert.equal(error.error, 'expired_token', describeError(error));
    assert.equal(error.status, 400);
  });
});
