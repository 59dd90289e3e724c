// A browser SPA with DPoP (RFC 9449): a page on its own origin, running oauth4webapi in
// Chromium, signs in through tessera's hosted pages (code flow with PKCE), then, with a
// non-extractable ES256 key made by WebCrypto, redeems the code, calls userinfo, refreshes
// and calls userinfo again, every request with a DPoP proof. It also checks that the
// bound access token does not work as a bearer token, and that a refresh without a proof
// is refused. Node serves the SPA (its page and oauth4webapi's module) and drives the
// browser; the SPA writes its findings into the page.
//
// usage: node dpop_spa.mjs ISSUER CLIENT_ID SPA_PORT EMAIL PASSWORD SHOTS_DIR
// The client must be public and first-party, with redirect URI http://127.0.0.1:SPA_PORT/cb,
// and tessera's TESSERA_CORS_ORIGINS must list http://127.0.0.1:SPA_PORT. Prints a JSON
// report; exits 1 on a failure.

import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { launch } from "./chromium.mjs";
import { shoot as saveShots } from "./shots.mjs";

const [issuer, clientId, spaPort, email, password, shots] = process.argv.slice(2);
const origin = `http://127.0.0.1:${spaPort}`;
const report = { pages: [], console: [] };
mkdirSync(shots, { recursive: true });

const oauth4webapi = readFileSync(createRequire(import.meta.url).resolve("oauth4webapi"));

// What runs in the page: the whole client, as an SPA would ship it.
const spa = `
import * as oauth from "/oauth4webapi.js";
const issuer = new URL(${JSON.stringify(issuer)});
const client = { client_id: ${JSON.stringify(clientId)} };
const redirect = ${JSON.stringify(`${origin}/cb`)};
const insecure = { [oauth.allowInsecureRequests]: true }; // plain http on loopback, in this test only
const out = (report) => {
  const pre = document.createElement("pre");
  pre.id = "report";
  pre.textContent = JSON.stringify(report);
  document.body.append(pre);
};
try {
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  if (location.pathname === "/") {
    const verifier = oauth.generateRandomCodeVerifier();
    sessionStorage.setItem("verifier", verifier);
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set("client_id", client.client_id);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("redirect_uri", redirect);
    url.searchParams.set("scope", "openid email");
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    location.assign(url);
  } else {
    const report = {};
    // the key never leaves WebCrypto: not extractable
    const keyPair = await oauth.generateKeyPair("ES256");
    report.extractable = keyPair.privateKey.extractable;
    const DPoP = oauth.DPoP(client, keyPair);
    const params = oauth.validateAuthResponse(as, client, new URL(location.href), oauth.expectNoState);
    const none = oauth.None();
    const verifier = sessionStorage.getItem("verifier");
    const tokens = await oauth.processAuthorizationCodeResponse(as, client,
      await oauth.authorizationCodeGrantRequest(as, client, none, params, redirect, verifier, { DPoP, ...insecure }));
    report.token_type = tokens.token_type;
    const sub = oauth.getValidatedIdTokenClaims(tokens).sub;
    const info = await oauth.processUserInfoResponse(as, client, sub,
      await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure }));
    report.email = info.email;
    // the same token as a bearer token: refused
    const bearer = await fetch(as.userinfo_endpoint, { headers: { authorization: "Bearer " + tokens.access_token } });
    report.bearer_status = bearer.status;
    report.bearer_challenge = bearer.headers.get("www-authenticate");
    // a refresh without the key: refused, and the holder's refresh still works after it
    const stolen = await fetch(as.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", client_id: client.client_id, refresh_token: tokens.refresh_token }),
    });
    report.refresh_without_proof = (await stolen.json()).error;
    const refreshed = await oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, none, tokens.refresh_token, { DPoP, ...insecure }));
    report.refreshed_token_type = refreshed.token_type;
    report.new_access_token = refreshed.access_token !== tokens.access_token;
    const again = await oauth.processUserInfoResponse(as, client, sub,
      await oauth.userInfoRequest(as, client, refreshed.access_token, { DPoP, ...insecure }));
    report.email_after_refresh = again.email;
    out(report);
  }
} catch (e) {
  out({ error: String(e), cause: e.cause ? JSON.stringify(e.cause) : undefined });
}
`;

const page_html = `<!doctype html><meta charset="utf-8"><title>SPA</title><script type="module" src="/spa.js"></script><p>the SPA</p>`;
const server = createServer((req, res) => {
  const path = new URL(req.url, origin).pathname;
  const [type, body] =
    path === "/spa.js" ? ["text/javascript", spa]
    : path === "/oauth4webapi.js" ? ["text/javascript", oauth4webapi]
    : ["text/html", page_html];
  res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
});
await new Promise((resolve) => server.listen(Number(spaPort), "127.0.0.1", resolve));

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource: the server responded with a status of 4")) {
      report.console.push(`${m.type()}: ${m.text()}`);
    }
  });
  await page.goto(`${origin}/`);
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await saveShots(page, "spa-signin", shots, report);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForSelector("#report", { timeout: 20000 });
  report.spa = JSON.parse(await page.textContent("#report"));
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(JSON.stringify({ ...report, failure: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
