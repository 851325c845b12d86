// panva's oidc-provider as a standards-compliant CIBA provider for the BFF's standard profile.
//
// It offers the authorization code flow (with oidc-provider's development login and consent
// pages), userinfo, revocation and CIBA in poll or ping mode, for one confidential client: the
// BFF. In ping mode the client's notification endpoint is a TLS relay on TLS_PORT (oidc-provider
// notifies only https endpoints) that passes each ping on to the BFF's /ciba/notify over plain
// HTTP, as a reverse proxy in front of the BFF would.
// Backchannel requests are not sent to any device; they are recorded, and the customer's decision
// comes from the test through a small admin API on the same loopback listener:
//
// - `GET  /test-admin/ciba`: the backchannel requests received so far, oldest first, as
//   `{ id, account_id, login_hint, binding_message, scope }`;
// - `POST /test-admin/ciba/decide` with `{ binding_message, approve }`: approves the pending
//   request with that binding message (a grant of the scopes it asked for) or denies it
//   (access_denied); answers 404 when no such request is pending;
// - `GET  /test-admin/pings`: the pings relayed to the BFF, as `{ auth_req_id, authorization,
//   status }` (the BFF's answer);
// - `GET  /test-admin/token-errors`: the token endpoint's CIBA error answers, as
//   `{ auth_req_id, error }` (a poll that found the request pending is `authorization_pending`);
// - `GET  /test-admin/issued`: every token the token endpoint issued, as
//   `{ grant_type, sub, access_token, id_token, refresh_token, access_token_active }`, so the
//   test can look for them in what the BFF sends to the browser and see which were revoked.
//
// Configuration, from the environment:
//   PROVIDER_PORT   where to listen on 127.0.0.1 (the issuer is http://127.0.0.1:PORT)
//   BFF_URL         the BFF's address as the browser reaches it (for its redirect URI)
//   CLIENT_ID       the BFF's client id
//   CLIENT_SECRET   its secret
//   DELIVERY        poll or ping
//   TLS_PORT, TLS_KEY, TLS_CERT   in ping mode: the relay's port, key and certificate (PEM files)

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';

import Provider, { errors } from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const PORT = Number(env('PROVIDER_PORT'));
const ISSUER = `http://127.0.0.1:${PORT}`;
const BFF_URL = env('BFF_URL').replace(/\/+$/, '');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const DELIVERY = env('DELIVERY');
if (!['poll', 'ping'].includes(DELIVERY)) {
  console.error(`provider.mjs: DELIVERY is poll or ping, not ${DELIVERY}`);
  process.exit(2);
}
const PING = DELIVERY === 'ping';
const TLS_PORT = PING ? Number(env('TLS_PORT')) : undefined;
const TLS_CERT = PING ? readFileSync(env('TLS_CERT')) : undefined;
const TLS_KEY = PING ? readFileSync(env('TLS_KEY')) : undefined;
const NOTIFY_RELAY = PING ? `https://127.0.0.1:${TLS_PORT}/ciba/notify` : undefined;

/**
 * Agents sign in to the console (the BFF reads `role`); customers are verified by CIBA and found
 * by user id, email address or phone number.
 */
const ACCOUNTS = [
  {
    sub: 'agent-avery',
    name: 'Avery Agent',
    email: 'avery@bank.example',
    email_verified: true,
    role: 'agent',
  },
  {
    sub: 'supervisor-sam',
    name: 'Sam Supervisor',
    email: 'sam@bank.example',
    email_verified: true,
    role: 'supervisor',
  },
  {
    sub: 'customer-alice',
    name: 'Alice Example',
    email: 'alice@example.com',
    email_verified: true,
    phone_number: '+15555550101',
    phone_number_verified: true,
  },
  {
    sub: 'customer-bob',
    name: 'Bob Example',
    email: 'bob@example.com',
    email_verified: true,
    phone_number: '+15555550102',
    phone_number_verified: true,
  },
];

const bySub = new Map(ACCOUNTS.map((account) => [account.sub, account]));

function findAccount(_ctx, sub) {
  const account = bySub.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    // oidc-provider keeps only the claims that the granted scopes (see `claims` below) allow.
    claims: () => ({ ...account }),
  };
}

/** The account a CIBA `login_hint` names: a user id, an email address or a phone number. */
function accountForHint(hint) {
  const wanted = hint.trim();
  const account = ACCOUNTS.find(
    (a) => a.sub === wanted || a.email === wanted.toLowerCase() || a.phone_number === wanted,
  );
  return account?.sub;
}

/** Backchannel requests as they arrived, by oidc-provider's request id. */
const received = new Map();
/** Token endpoint answers, oldest first. */
const issued = [];
/** Pings relayed to the BFF, oldest first. */
const pings = [];
/** The token endpoint's CIBA errors, oldest first. */
const tokenErrors = [];

// A fresh signing key per run: the BFF must fetch and use the JWKS, not a key it knows.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${randomBytes(4).toString('hex')}`,
  use: 'sig',
  alg: 'RS256',
};

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token', 'urn:openid:params:grant-type:ciba'],
      response_types: ['code'],
      redirect_uris: [`${BFF_URL}/auth/callback`],
      token_endpoint_auth_method: 'client_secret_basic',
      backchannel_token_delivery_mode: DELIVERY,
      ...(PING ? { backchannel_client_notification_endpoint: NOTIFY_RELAY } : {}),
    },
  ],
  // The relay's certificate is trusted for the pings to it, and only for them.
  httpOptions: (url) => (PING && url.href.startsWith(`https://127.0.0.1:${TLS_PORT}/`)
    ? { agent: new HttpsAgent({ ca: TLS_CERT }) }
    : {}),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount,
  // The BFF asks for `openid email` (agents) and `openid email phone` (customers), and reads
  // the name and the agent's role from the ID token: this provider releases both with `openid`,
  // and with them `amr` and `auth_time` (how and when the customer authenticated).
  claims: {
    openid: ['sub', 'name', 'role', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
  },
  // Put the granted claims in the ID token too, not only in userinfo: the BFF validates the ID
  // token and takes the customer's (and the agent's) identity from it.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    ciba: {
      enabled: true,
      deliveryModes: ['poll', 'ping'],
      processLoginHint: (_ctx, loginHint) => accountForHint(loginHint),
      // Only the standard parameters are expected; a hint token or user code is refused.
      processLoginHintToken: () => {
        throw new errors.InvalidRequest('login_hint_token is not supported');
      },
      // Read from the request's parameters: oidc-provider 8.x passes this hook the login hint's
      // value as its third argument, not the user_code.
      verifyUserCode: (ctx) => {
        if (ctx.oidc.params.user_code) {
          throw new errors.InvalidRequest('user_code is not supported');
        }
      },
      validateRequestContext: (_ctx, requestContext) => {
        if (requestContext) throw new errors.InvalidRequest('request_context is not supported');
      },
      // The CIBA Core §7.1 shape the BFF's codes must fit (one to twenty plain characters).
      validateBindingMessage: (_ctx, bindingMessage) => {
        if (bindingMessage !== undefined && !/^[A-Za-z0-9._+/!?#-]{1,20}$/.test(bindingMessage)) {
          throw new errors.InvalidBindingMessage('binding_message must be 1 to 20 plain characters');
        }
      },
      // A real provider would notify the customer's device here; the test plays that device.
      triggerAuthenticationDevice: (_ctx, request, account) => {
        received.set(request.jti, {
          id: request.jti,
          account_id: account.accountId,
          login_hint: request.params.login_hint,
          binding_message: request.params.binding_message,
          scope: request.scope,
        });
      },
    },
  },
});

provider.on('grant.success', (ctx) => {
  const { access_token, id_token, refresh_token } = ctx.body ?? {};
  const sub = id_token
    ? JSON.parse(Buffer.from(id_token.split('.')[1], 'base64url').toString()).sub
    : undefined;
  issued.push({
    grant_type: ctx.oidc.params.grant_type,
    sub,
    access_token,
    id_token,
    refresh_token,
  });
});
provider.on('server_error', (_ctx, error) => console.error('server_error', error));
provider.on('backchannel_authentication.error', (_ctx, error) => {
  console.error(`backchannel_authentication.error: ${error.error} ${error.error_description ?? ''}`);
});
provider.on('grant.error', (ctx, error) => {
  if (ctx.oidc.params?.grant_type === 'urn:openid:params:grant-type:ciba') {
    tokenErrors.push({ auth_req_id: ctx.oidc.params.auth_req_id, error: error.error });
  }
  console.error(`grant.error: ${error.error} ${error.error_description ?? ''}`);
});

/** Approves or denies the pending request whose binding message is `bindingMessage`. */
async function decide(bindingMessage, approve) {
  const entry = [...received.values()].find((r) => r.binding_message === bindingMessage);
  if (!entry) return false;
  const request = await provider.BackchannelAuthenticationRequest.find(entry.id);
  if (!request || request.grantId || request.error) return false;
  if (approve) {
    const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
    grant.addOIDCScope(request.scope);
    await grant.save();
    await provider.backchannelResult(request, grant, {
      amr: ['pwd'],
      authTime: Math.floor(Date.now() / 1000),
    });
  } else {
    await provider.backchannelResult(
      request,
      new errors.AccessDenied('the customer denied the request'),
    );
  }
  return true;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(text || '{}'));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function admin(req, res) {
  if (req.method === 'GET' && req.url === '/test-admin/ciba') {
    return answer(res, 200, [...received.values()]);
  }
  if (req.method === 'POST' && req.url === '/test-admin/ciba/decide') {
    const { binding_message: bindingMessage, approve } = await readJson(req);
    const done = await decide(String(bindingMessage), approve === true);
    return answer(res, done ? 200 : 404, { decided: done });
  }
  if (req.method === 'GET' && req.url === '/test-admin/pings') {
    return answer(res, 200, pings);
  }
  if (req.method === 'GET' && req.url === '/test-admin/token-errors') {
    return answer(res, 200, tokenErrors);
  }
  if (req.method === 'GET' && req.url === '/test-admin/issued') {
    const tokens = await Promise.all(issued.map(async (entry) => ({
      ...entry,
      access_token_active: Boolean(await provider.AccessToken.find(entry.access_token)),
    })));
    return answer(res, 200, tokens);
  }
  return answer(res, 404, { error: 'not_found' });
}

const oidc = provider.callback();
const server = createServer((req, res) => {
  if (req.url.startsWith('/test-admin/')) {
    admin(req, res).catch((error) => {
      console.error('admin:', error);
      answer(res, 500, { error: String(error?.message ?? error) });
    });
    return;
  }
  oidc(req, res);
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider listening: ${ISSUER}`);
});

/** The TLS relay in front of the BFF's /ciba/notify (ping mode only). */
function relayPing(req, res) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', async () => {
    const headers = { 'content-type': req.headers['content-type'] ?? 'application/json' };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    let status = 502;
    try {
      const answered = await fetch(`${BFF_URL}${req.url}`, {
        method: req.method, headers, body, redirect: 'manual',
      });
      status = answered.status;
    } catch (error) {
      console.error('ping relay:', error);
    }
    let auth_req_id;
    try {
      ({ auth_req_id } = JSON.parse(body));
    } catch {
      auth_req_id = undefined;
    }
    pings.push({ auth_req_id, authorization: req.headers.authorization, status });
    res.writeHead(status);
    res.end();
  });
}

if (PING) {
  createHttpsServer({ key: TLS_KEY, cert: TLS_CERT }, relayPing).listen(TLS_PORT, '127.0.0.1');
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
