// What ciba.test.mjs and code.test.mjs share: the issuer run.sh passes in COUNTERSIGN_ISSUER,
// the demo client, openid-client's discovery of the provider, and the ID token checks made
// independently of openid-client.

import assert from 'node:assert/strict';

import * as client from 'openid-client';
import * as jose from 'jose';

export const ISSUER = process.env.COUNTERSIGN_ISSUER;
if (!ISSUER) {
  console.error('COUNTERSIGN_ISSUER is not set: run this through run.sh');
  process.exit(2);
}

export const CLIENT_ID = 'agent-console';
export const CLIENT_SECRET = 'demo-console-secret';

/**
 * Discovers the provider as openid-client does it. `require_auth_time` makes openid-client
 * itself reject an ID token without `auth_time`; enableNonRepudiationChecks makes it verify
 * every ID token's signature against the provider's JWKS (v6 does not by default for ID tokens
 * from the token endpoint: OIDC Core §3.1.3.7 lets the TLS channel stand in for it).
 */
function discover(auth) {
  return client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    { client_secret: CLIENT_SECRET, require_auth_time: true },
    auth,
    // The issuer is http://127.0.0.1, which openid-client refuses unless told otherwise.
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
}

/**
 * openid-client configurations, one per client authentication method the provider offers:
 * answers `[basic, post]` (client_secret_basic, client_secret_post).
 */
export function discoverBasicAndPost() {
  return Promise.all([
    discover(client.ClientSecretBasic(CLIENT_SECRET)),
    discover(client.ClientSecretPost(CLIENT_SECRET)),
  ]);
}

/**
 * Checks `idToken`'s signature once more, independently of openid-client, with jose against the
 * JWKS of `config`'s provider, and that its subject is `sub`; then that the same token with its
 * payload changed by `tamper` (claims to overwrite) fails that very check.
 */
export async function verifyIdTokenWithJose(config, idToken, { sub, tamper }) {
  const metadata = config.serverMetadata();
  const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
  const options = {
    issuer: ISSUER,
    audience: CLIENT_ID,
    algorithms: metadata.id_token_signing_alg_values_supported,
  };
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, jwks, options);
  assert.equal(payload.sub, sub);
  assert.ok(protectedHeader.kid, 'the ID token names no key');
  const [header, , signature] = idToken.split('.');
  const forged = jose.base64url.encode(JSON.stringify({ ...payload, ...tamper }));
  await assert.rejects(jose.jwtVerify(`${header}.${forged}.${signature}`, jwks, options), {
    code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  });
}

/** An error, with what openid-client knows of the provider's answer. */
export function describeError(error) {
  const cause = error?.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  return `${error?.name}: ${error?.message}${cause} ${JSON.stringify({
    code: error?.code,
    error: error?.error,
    error_description: error?.error_description,
    status: error?.status,
  })}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
