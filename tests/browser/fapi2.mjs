// A FAPI 2.0 client, as openid-client builds one: it authenticates with private_key_jwt,
// pushes its authorization request (PAR) with a DPoP proof, signs the user in on tessera's
// hosted pages in Chromium (JavaScript off), redeems the code with DPoP, calls userinfo,
// refreshes and introspects, every request as the profile asks.
//
// usage: node fapi2.mjs ISSUER CLIENT_ID CLIENT_PRIVATE_JWK APP_URL EMAIL PASSWORD SHOTS_DIR
// The client (profile fapi2) has redirect URI APP_URL/cb and the public half of
// CLIENT_PRIVATE_JWK (with its kid) in its jwks. Prints a JSON report; exits 1 on a failure.

import { mkdirSync } from "node:fs";
import * as oidc from "openid-client";
import { launch } from "./chromium.mjs";
import { shoot as saveShots } from "./shots.mjs";

const [issuer, clientId, privateJwk, APP, email, password, shots] = process.argv.slice(2);
const REDIRECT = `${APP}/cb`;
const report = { pages: [], console: [] };
mkdirSync(shots, { recursive: true });

const jwk = JSON.parse(privateJwk);
const signingKey = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const config = await oidc.discovery(
  new URL(issuer),
  clientId,
  { id_token_signed_response_alg: "ES256" }, // the profile never signs with RS256
  oidc.PrivateKeyJwt({ key: signingKey, kid: jwk.kid }),
  { execute: [oidc.allowInsecureRequests] }, // plain http on loopback, in this test only
);
// the DPoP key: made here, never exported
const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair("ES256"));

const browser = await launch();
try {
  const page = await (await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } })).newPage();
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedNonce: oidc.randomNonce(), idTokenExpected: true };
  const url = await oidc.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: REDIRECT,
      scope: "openid email",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      nonce: checks.expectedNonce,
    },
    { DPoP },
  );
  report.pushed = url.searchParams.get("request_uri")?.startsWith("urn:ietf:params:oauth:request_uri:");
  report.front_channel = [...url.searchParams.keys()].sort();
  await page.goto(url.href);
  await saveShots(page, "fapi2-signin", shots, report);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  if (!page.url().startsWith(REDIRECT)) throw new Error(`the sign-in led to ${page.url()}`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks, undefined, { DPoP });
  report.token_type = tokens.token_type;
  report.email = tokens.claims().email;
  const header = JSON.parse(Buffer.from(tokens.access_token.split(".")[0], "base64url"));
  report.access_token_alg = header.alg;
  report.id_token_alg = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url")).alg;
  const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  report.userinfo_email = info.email;
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  report.refreshed_token_type = refreshed.token_type;
  const status = await oidc.tokenIntrospection(config, refreshed.access_token);
  report.introspected = { active: status.active, token_type: status.token_type, has_jkt: typeof status.cnf?.jkt === "string" };
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(JSON.stringify({ ...report, failure: String(e), cause: e.cause ? JSON.stringify(e.cause) : undefined }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
