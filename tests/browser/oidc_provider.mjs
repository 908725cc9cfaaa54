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
// tokens are signed with a key made at start (RS256).
import Provider from 'oidc-provider';
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

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, issuer }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test holds our stdin: when it goes (the test ended, however), so do we.
process.stdin.on('end', stop);
process.stdin.resume();
