// A relying party's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0
// §2.5–2.6), written against `jose` as a Node.js relying party would write it, so tessera's
// logout tokens are checked by code that is not tessera's.
//
//   node backchannel_rp.mjs <port> <issuer> <client_id> [<jwks_uri>]
//
// Listens on 127.0.0.1:<port>, path /backchannel. Each POST's `logout_token` is verified
// against the issuer's JWKS (`<issuer>/.well-known/jwks.json` unless given): signature with an allowlisted algorithm, `typ: logout+jwt`,
// `iss`, `aud`, `iat`, `exp`, a `jti` not seen before, `sub` and `sid`, the
// back-channel-logout event, and no `nonce`. A good token is answered 200, a bad one 400.
// Every request is printed as one JSON line: {"ok": true, "header", "claims"} or
// {"ok": false, "error"}. The first line printed is {"listening": <port>}.
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

const [port, issuer, clientId, jwksUri] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksUri || `${issuer}/.well-known/jwks.json`));
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const seen = new Set();

async function verify(token) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience: clientId,
    typ: 'logout+jwt',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    requiredClaims: ['iat', 'exp', 'jti', 'sub', 'sid', 'events'],
    maxTokenAge: '2 minutes',
  });
  if (typeof payload.events !== 'object' || !(EVENT in payload.events)) {
    throw new Error('no back-channel logout event');
  }
  if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
  if (seen.has(payload.jti)) throw new Error(`jti ${payload.jti} replayed`);
  seen.add(payload.jti);
  return { header: decodeProtectedHeader(token), claims: payload };
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', async () => {
    try {
      if (req.method !== 'POST' || req.url !== '/backchannel') throw new Error(`${req.method} ${req.url}`);
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
        throw new Error(`content-type ${req.headers['content-type']}`);
      }
      const token = new URLSearchParams(body).get('logout_token');
      if (!token) throw new Error('no logout_token');
      const verified = await verify(token);
      console.log(JSON.stringify({ ok: true, ...verified }));
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (e) {
      console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify({ error: 'invalid_request' }));
    }
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log(JSON.stringify({ listening: Number(port) })));
