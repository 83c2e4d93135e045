// A real OpenID provider for wharf's single sign-on tests: oidc-provider
// (the certified implementation) with one confidential client, accounts read
// from a JSON file at every sign-in (so a test can change someone's groups
// between two sign-ins) and a `groups` claim. It listens on 127.0.0.1 only
// and is addressed as `localhost`, so a browser sees another site than
// wharf's `127.0.0.1`.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// POST_LOGOUT_REDIRECT_URI, ACCOUNTS_FILE ({"<sub>": {"preferred_username",
// "email", "groups", "password"}}; the password defaults to
// "idp-password" and is never a claim).
//
// Its pages (sign-in, sign-out, errors) are its own plain HTML: nothing a
// browser shows here fetches anything from beyond loopback.
//
// For the security tests a control route, `POST /test/tamper?mode=...`,
// makes the token endpoint hand out a doctored ID token from then on, the
// way a broken or hostile provider (or someone in the middle) would:
// `nonce`, `audience`, `issuer`, `expired` (re-signed with the real key),
// `none` (unsigned, alg none), `foreign-key` (signed by a key not in the
// JWKS); `off` stops it. It is on the test's loopback provider only.

import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('PORT'));
const issuer = `http://localhost:${port}`;
const clientId = env('CLIENT_ID');
const accountsFile = env('ACCOUNTS_FILE');

const alg = 'RS256';
const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
// A new key with a new key ID at every start: a restarted provider has
// rotated its signing key.
const kid = `key-${Date.now()}`;
const jwk = { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
const foreign = (await jose.generateKeyPair(alg)).privateKey;

const accounts = () => JSON.parse(readFileSync(accountsFile, 'utf8'));

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;background:#eef1f6;margin:0}main{max-width:22rem;margin:4rem auto;background:#fff;padding:1.5rem 2rem;border-radius:6px;box-shadow:0 1px 4px #0003}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem;background:#2f6fde;color:#fff;border:0;border-radius:4px}.error{color:#b00}</style>
</head><body><main><p><strong>Test identity provider</strong> (${escape(issuer)})</p>${body}</main></body></html>`;

const loginForm = (uid, error) => page('Sign in', `<h1>Sign in</h1>
${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">Username</label><input id="login" name="login" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${escape(uid)}/abort">Cancel</a></p>`);

const formBody = (req) => new Promise((resolve, reject) => {
  let data = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { data += chunk; });
  req.on('end', () => resolve(new URLSearchParams(data)));
  req.on('error', reject);
});

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: [env('REDIRECT_URI')],
    post_logout_redirect_uris: [env('POST_LOGOUT_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The claims of the requested scopes go into the ID token, as Keycloak's
  // and Dex's do.
  conformIdTokenClaims: false,
  // A first-party client: the grant is given without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'email_verified', 'groups']);
    await grant.save();
    return grant;
  },
  async findAccount(ctx, sub) {
    const account = accounts()[sub];
    if (!account) {
      return undefined;
    }
    const { password, ...claims } = account;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...claims };
      },
    };
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `<h1>Sign out of ${escape(ctx.host)}?</h1>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>You are signed out.</h1>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
  },
  pkce: { required: () => true },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60 },
});

let tamper = 'off';

async function doctor(idToken) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (tamper) {
    case 'nonce': claims.nonce = 'not-the-nonce-wharf-sent'; break;
    case 'audience': claims.aud = 'another-client'; break;
    case 'issuer': claims.iss = `${issuer}/elsewhere`; break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'none': {
      const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
    }
    case 'foreign-key':
      return new jose.SignJWT(claims).setProtectedHeader({ alg, kid }).sign(foreign);
    default: return idToken;
  }
  return new jose.SignJWT(claims).setProtectedHeader({ alg, kid }).sign(privateKey);
}

// The interaction pages: sign in with a password, or cancel.
provider.use(async (ctx, next) => {
  const route = ctx.path.match(/^\/interaction\/([\w-]+)(\/login|\/abort)?$/);
  if (!route) {
    await next();
    return;
  }
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const [, uid, action] = route;
  if (!action && ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginForm(uid);
    return;
  }
  let result;
  if (action === '/login' && ctx.method === 'POST') {
    const form = await formBody(ctx.req);
    const login = form.get('login') || '';
    const account = accounts()[login];
    if (!account || form.get('password') !== (account.password ?? 'idp-password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginForm(uid, 'Wrong username or password.');
      return;
    }
    result = { login: { accountId: login } };
  } else if (action === '/abort') {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else {
    ctx.throw(405);
  }
  if (details.prompt.name !== 'login' && !result.error) {
    ctx.throw(501, `prompt ${details.prompt.name} is not handled`);
  }
  ctx.status = 303;
  ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  }));
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/tamper' && ctx.method === 'POST') {
    tamper = ctx.query.mode || 'off';
    ctx.body = { tamper };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && tamper !== 'off') {
    ctx.body = { ...ctx.body, id_token: await doctor(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
