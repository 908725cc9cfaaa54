// A real OpenID Connect provider for the sign-in tests: `oidc-provider` (npm), on loopback, with
// one confidential client (the office) and two test users, typed into the provider's own login
// form (its development interactions: any password is accepted, the user must be one of these):
//
//   verified-user — 山田 太郎, with the claim `identity_assurance: "mynumber_card"` (what an IdP
//                   fronting the My Number card would assert);
//   plain-user    — Alex Plain, no assurance claim.
//
//   PORT=… CLIENT_ID=… CLIENT_SECRET=… REDIRECT_URI=… [POST_LOGOUT_URI=…] node oidc_provider.mjs
//
// Prints one JSON line {"ready":true,"issuer":"http://127.0.0.1:PORT"} once listening. The ID
// tokens are signed with a key made at start (RS256, kid k1).
//
// For the tests of bad tokens, `POST /__test/tamper?mode=M` changes the ID token of the next
// token response (once), keeping its claims otherwise:
//   forged   — signed with another key under the same kid;
//   expired  — signed with the provider's key, expired an hour ago;
//   audience — signed with the provider's key, for another client;
//   rotate   — signed with a new key (kid k2) that the provider's JWKS lists from now on, as a
//              provider that rotated its keys would.
import Provider from 'oidc-provider';
import * as jose from 'jose';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const users = {
  'verified-user': { name: '山田 太郎', identity_assurance: 'mynumber_card' },
  'plain-user': { name: 'Alex Plain' },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    post_logout_redirect_uris: process.env.POST_LOGOUT_URI ? [process.env.POST_LOGOUT_URI] : [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  pkce: { required: () => true },
  // The claims of the scopes asked for go into the ID token (the office reads only that).
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], profile: ['name'], madoguchi: ['identity_assurance'] },
  scopes: ['openid', 'profile', 'madoguchi'],
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, sub) {
    const user = users[sub];
    if (!user) return undefined;
    return { accountId: sub, async claims() { return { sub, ...user }; } };
  },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
// Plain http on loopback: the tests' browser talks to it directly.
provider.proxy = false;

const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
let tamper = null;
let rotatedPublished = false;
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    tamper = ctx.query.mode;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/jwks' && rotatedPublished && ctx.body && ctx.body.keys) {
    const pub = { ...(await jose.exportJWK(rotated)), kid: 'k2', use: 'sig', alg: 'RS256' };
    for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi']) delete pub[k];
    ctx.body = { keys: [...ctx.body.keys, pub] };
  }
  if (ctx.path === '/token' && ctx.status === 200 && tamper && ctx.body && ctx.body.id_token) {
    const mode = tamper;
    tamper = null;
    const claims = jose.decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    let key = privateKey;
    let kid = 'k1';
    if (mode === 'forged') key = other;
    if (mode === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
    if (mode === 'audience') claims.aud = 'someone-else';
    if (mode === 'rotate') { key = rotated; kid = 'k2'; rotatedPublished = true; }
    ctx.body = { ...ctx.body, id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key) };
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, issuer }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test holds our stdin: when it goes (the test ended, however), so do we.
process.stdin.on('end', stop);
process.stdin.resume();
