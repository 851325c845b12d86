// The embedded provider's workforce sign-in (authorization code flow with PKCE, OIDC Core §3.1,
// RFC 7636, RFC 9207) and rotating refresh tokens, driven by panva's certified openid-client (v6).
//
// run.sh starts a fresh countersign-provider and passes its issuer in COUNTERSIGN_ISSUER. The
// client does everything a relying party does through openid-client's own API (discovery, the
// authorization URL, PKCE, state, nonce, the authorization response with its iss parameter, the
// code grant, ID token validation, userinfo, refresh); only the user's browser (showing the
// sign-in page, posting its form, following the redirect) is plain fetch.
//
// No case waits for anything: they run concurrently and take about as long as the provider's
// password hashing. They sign in different users or do not sign anyone in, and one wrong
// password is far below the sign-in failure limits, so they cannot disturb each other.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as client from 'openid-client';

import {
  CLIENT_ID, ISSUER,
  describeError, discoverBasicAndPost, nowSeconds, verifyIdTokenWithJose,
} from './common.mjs';

/** The demo client's registered redirect URI. */
const REDIRECT_URI = 'http://127.0.0.1:3000/auth/callback';
/** The same on another port: a registered loopback URI matches on any port (RFC 8252 §7.3). */
const OTHER_PORT_REDIRECT_URI = 'http://127.0.0.1:49321/auth/callback';
const AGENT = {
  email: 'agent@demo.bank',
  password: 'agent-demo-password',
  sub: 'agent',
  role: 'agent',
};
const SUPERVISOR = {
  email: 'supervisor@demo.bank',
  password: 'supervisor-demo-password',
  sub: 'supervisor',
  role: 'supervisor',
};
const PWD_ACR = 'urn:countersign:acr:pwd';
const CASE_LIMIT_MS = 20_000;

/** openid-client configurations: one per client authentication method the provider offers. */
let basic;
let post;

/** The HTML entities the provider's pages escape. */
function unescapeHtml(text) {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name],
  );
}

/** The sign-in page's form, as a browser sees it: its action and its hidden fields. */
function parseForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*\baction="([^"]*)"[^>]*>/);
  assert.ok(form, `no form on the page: ${html}`);
  const hidden = new URLSearchParams();
  for (const [input] of html.matchAll(/<input\b[^>]*>/g)) {
    if (!/\btype="hidden"/.test(input)) continue;
    const name = input.match(/\bname="([^"]*)"/)?.[1];
    const value = input.match(/\bvalue="([^"]*)"/)?.[1];
    assert.ok(name !== undefined && value !== undefined, `odd hidden input ${input}`);
    hidden.append(unescapeHtml(name), unescapeHtml(value));
  }
  return { action: new URL(unescapeHtml(form[1]), pageUrl), hidden };
}

/**
 * A fresh authorization request through openid-client: PKCE S256, state and nonce, and the URL
 * to send the browser to.
 */
async function authorizationRequest(config, { redirectUri = REDIRECT_URI, scope = 'openid' } = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state: expectedState,
    nonce: expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
  });
  const checks = { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true };
  return { url, redirectUri, checks };
}

/**
 * The browser: shows the sign-in page at `url`, checks that its form carries the request on,
 * and posts it with `email` and `password` from the provider's own origin, without following a
 * redirect. Answers the POST's response and its body.
 */
async function browserSignIn(url, { email, password }) {
  const page = await fetch(url, { headers: { accept: 'text/html' }, redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, `GET /authorize: HTTP ${page.status} ${html}`);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const { action, hidden } = parseForm(html, url);
  assert.equal(action.href, new URL('/authorize', ISSUER).href, 'the form posts elsewhere');
  const carried = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce'];
  for (const name of [...carried, 'code_challenge', 'code_challenge_method']) {
    assert.equal(hidden.get(name), url.searchParams.get(name), `the form's hidden ${name}`);
  }

  const form = new URLSearchParams(hidden);
  form.set('email', email);
  form.set('password', password);
  const response = await fetch(action, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      origin: new URL(ISSUER).origin,
    },
    body: form,
    redirect: 'manual',
  });
  return { response, body: await response.text() };
}

/** Signs in through the browser and answers the redirect's Location, checked for code flow. */
async function signIn(request, user) {
  const { response, body } = await browserSignIn(request.url, user);
  assert.equal(response.status, 303, `POST /authorize: HTTP ${response.status} ${body}`);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  const location = response.headers.get('location');
  assert.ok(location, 'a redirect without Location');
  const callback = new URL(location);
  assert.equal(`${callback.origin}${callback.pathname}`, request.redirectUri, `to ${location}`);
  assert.equal(typeof callback.searchParams.get('code'), 'string', `no code in ${location}`);
  assert.equal(callback.searchParams.get('state'), request.checks.expectedState);
  assert.equal(callback.searchParams.get('iss'), ISSUER, 'RFC 9207 iss');
  assert.equal(callback.searchParams.get('error'), null);
  return callback;
}

/** Asserts that `promise` rejects as an OAuth error response `error` with HTTP `status`. */
async function rejectsWith(promise, error, status = 400) {
  const outcome = await promise.then((value) => ({ value }), (caught) => ({ caught }));
  assert.ok(!outcome.value, `expected ${error}, got tokens: ${JSON.stringify(outcome.value)}`);
  assert.ok(outcome.caught instanceof client.ResponseBodyError, describeError(outcome.caught));
  assert.equal(outcome.caught.error, error, describeError(outcome.caught));
  assert.equal(outcome.caught.status, status, describeError(outcome.caught));
}

/** Asserts that userinfo refuses `accessToken` with 401 and a Bearer invalid_token challenge. */
async function userinfoRefuses(config, accessToken, sub) {
  const outcome = await client
    .fetchUserInfo(config, accessToken, sub)
    .then((value) => ({ value }), (caught) => ({ caught }));
  assert.ok(!outcome.value, `userinfo answered a revoked token: ${JSON.stringify(outcome.value)}`);
  const challenge = outcome.caught instanceof client.WWWAuthenticateChallengeError;
  assert.ok(challenge, describeError(outcome.caught));
  assert.equal(outcome.caught.status, 401);
  assert.equal(outcome.caught.cause?.[0]?.scheme, 'bearer');
  assert.equal(outcome.caught.cause?.[0]?.parameters?.error, 'invalid_token');
}

describe('openid-client 6 against countersign-provider: workforce sign-in', { concurrency: true }, () => {
  before(async () => {
    [basic, post] = await discoverBasicAndPost();
  });

  it('discovery: authorization code metadata', () => {
    const metadata = basic.serverMetadata();
    assert.equal(metadata.authorization_endpoint, `${ISSUER}/authorize`);
    assert.equal(metadata.userinfo_endpoint, `${ISSUER}/userinfo`);
    assert.ok(metadata.response_types_supported?.includes('code'), 'no response_type code');
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    for (const grant of ['authorization_code', 'refresh_token']) {
      assert.ok(metadata.grant_types_supported?.includes(grant), `no ${grant} grant type`);
    }
    assert.ok(metadata.scopes_supported?.includes('offline_access'), 'no offline_access scope');
  });

  const agentCase = 'agent: code with PKCE, verified ID token, userinfo, rotating refresh with reuse detection';
  it(agentCase, { timeout: CASE_LIMIT_MS }, async () => {
    const startedAt = nowSeconds();
    const request = await authorizationRequest(basic, { scope: 'openid email offline_access' });
    const callback = await signIn(request, AGENT);

    // openid-client checks the response's state and iss (RFC 9207: the metadata says it is
    // sent), sends the code with redirect_uri and code_verifier, and validates the ID token
    // (iss, aud, exp, iat, sub, the required auth_time, nonce, the signature).
    const tokens = await client.authorizationCodeGrant(basic, callback, request.checks);
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.scope, 'openid email offline_access');
    assert.equal(typeof tokens.refresh_token, 'string', 'no refresh token with offline_access');
    const claims = tokens.claims();
    assert.ok(claims, 'no ID token');
    assert.equal(claims.iss, ISSUER);
    assert.ok([claims.aud].flat().includes(CLIENT_ID), `aud ${JSON.stringify(claims.aud)}`);
    assert.equal(claims.sub, AGENT.sub);
    assert.equal(claims.role, AGENT.role);
    assert.equal(claims.nonce, request.checks.expectedNonce);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, PWD_ACR);
    assert.equal(claims.email, AGENT.email);
    assert.ok(claims.auth_time >= startedAt && claims.auth_time <= claims.iat, 'auth_time out of range');

    // The signature once more, independently of openid-client, with jose against the JWKS;
    // and the same token with its payload changed must fail that very check.
    await verifyIdTokenWithJose(basic, tokens.id_token, {
      sub: AGENT.sub,
      tamper: { role: 'supervisor' },
    });

    // The access token is the agent's (openid-client checks that sub matches).
    const userinfo = await client.fetchUserInfo(basic, tokens.access_token, AGENT.sub);
    assert.equal(userinfo.sub, AGENT.sub);
    assert.equal(userinfo.email, AGENT.email);

    // Refresh (RFC 6749 §6): new access and refresh tokens; the ID token is for the same
    // sign-in (OIDC Core §12.2: same iss, sub, aud, the original auth_time, no nonce).
    const refreshed = await client.refreshTokenGrant(basic, tokens.refresh_token);
    assert.equal(typeof refreshed.refresh_token, 'string', 'no rotated refresh token');
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token did not rotate');
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.equal(refreshed.scope, tokens.scope);
    const again = refreshed.claims();
    assert.ok(again, 'no ID token from the refresh');
    assert.equal(again.iss, ISSUER);
    assert.equal(again.sub, AGENT.sub);
    assert.deepEqual(again.aud, claims.aud);
    assert.equal(again.auth_time, claims.auth_time);
    assert.equal(again.role, AGENT.role);
    assert.deepEqual(again.amr, ['pwd']);
    assert.equal(again.nonce, undefined);
    assert.equal((await client.fetchUserInfo(basic, refreshed.access_token, AGENT.sub)).sub, AGENT.sub);

    // The first refresh token is spent: using it again is refused and, as it must have leaked,
    // ends the whole grant (RFC 9700 §4.14.2), so the rotated one and its access token die too.
    await rejectsWith(client.refreshTokenGrant(basic, tokens.refresh_token), 'invalid_grant');
    await rejectsWith(client.refreshTokenGrant(basic, refreshed.refresh_token), 'invalid_grant');
    await userinfoRefuses(basic, refreshed.access_token, AGENT.sub);
  });

  const supervisorCase = 'supervisor: loopback redirect on another port, client_secret_post, code is single use';
  it(supervisorCase, { timeout: CASE_LIMIT_MS }, async () => {
    const request = await authorizationRequest(post, { redirectUri: OTHER_PORT_REDIRECT_URI });
    const callback = await signIn(request, SUPERVISOR);
    const tokens = await client.authorizationCodeGrant(post, callback, request.checks);
    const claims = tokens.claims();
    assert.equal(claims.sub, SUPERVISOR.sub);
    assert.equal(claims.role, SUPERVISOR.role);
    assert.equal(claims.nonce, request.checks.expectedNonce);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.email, undefined, 'email without the email scope');
    assert.equal(tokens.refresh_token, undefined, 'a refresh token without offline_access');
    assert.equal((await client.fetchUserInfo(post, tokens.access_token, SUPERVISOR.sub)).sub, SUPERVISOR.sub);

    // The same code again is refused, and the tokens it gave are revoked (RFC 6749 §4.1.2).
    await rejectsWith(client.authorizationCodeGrant(post, callback, request.checks), 'invalid_grant');
    await userinfoRefuses(post, tokens.access_token, SUPERVISOR.sub);
  });

  it('PKCE: a code redeemed with another code_verifier is refused', { timeout: CASE_LIMIT_MS }, async () => {
    const request = await authorizationRequest(basic);
    const callback = await signIn(request, AGENT);
    const checks = { ...request.checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
    await rejectsWith(client.authorizationCodeGrant(basic, callback, checks), 'invalid_grant');
  });

  it('wrong password: 401 sign-in page again, no redirect, no code', { timeout: CASE_LIMIT_MS }, async () => {
    const request = await authorizationRequest(basic);
    const { response, body } = await browserSignIn(request.url, {
      email: AGENT.email,
      password: 'not-the-agent-password',
    });
    assert.equal(response.status, 401, `POST /authorize: HTTP ${response.status} ${body}`);
    assert.equal(response.headers.get('location'), null, 'a wrong password redirected');
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(body, /role="alert"/, 'no error message on the page');
    assert.doesNotMatch(body, /[?&]code=/, 'a code on the page');
    // The page is the form again, carrying the same request on for another try.
    const { hidden } = parseForm(body, request.url);
    assert.equal(hidden.get('state'), request.checks.expectedState);
    assert.equal(hidden.get('code_challenge'), request.url.searchParams.get('code_challenge'));
  });
});
