// Signing in through an upstream provider in a real browser (book § Upstream providers):
// headless Chromium (Debian's, driven by playwright-core, JavaScript off) and three
// parties that are not tessera's code — node-oidc-provider (a certified OpenID provider)
// as the upstream, started here on OP_PORT; openid-client as the relying party; the
// hosted pages in between. The user clicks "Continue with Node OP" on tessera's sign-in
// page, signs in and consents at the provider (its development interactions), and lands
// back at the app with a code whose tokens name the provider (`idp`). A second sign-in at
// the provider that the user cancels ends on tessera's sign-in page with tessera's words.
//
// usage: node upstream.mjs BASE_URL CLIENT_ID APP_URL OP_PORT OP_CLIENT_ID OP_SECRET EMAIL SHOTS_DIR
// BASE_URL is tessera's issuer; the provider is registered there as `node-op` with issuer
// http://127.0.0.1:OP_PORT. Prints a JSON report; exits 1 on a failure.

import { mkdirSync } from "node:fs";
import Provider from "oidc-provider";
import * as oidc from "openid-client";
import { launch } from "./chromium.mjs";
import * as rp from "./rp.mjs";
import { shoot as saveShots } from "./shots.mjs";

const [base, clientId, APP, opPort, opClient, opSecret, email, shots] = process.argv.slice(2);
const REDIRECT = `${APP}/cb`;
const report = { pages: [], console: [] };
mkdirSync(shots, { recursive: true });

// the provider's development-only notices go to standard error: standard output is the report
console.info = (...args) => console.error(...args);

// the upstream: tessera as two clients, by secret (`node-op`) and by its own signing key
// (`node-op-key`, private_key_jwt, tessera's JWKS); any login name signs in as an account
// with `email`
const tesseraKeys = await (await fetch(`${base}/.well-known/jwks.json`)).json();
const op = new Provider(`http://127.0.0.1:${opPort}`, {
  clients: [
    {
      client_id: opClient,
      client_secret: opSecret,
      redirect_uris: [`${base}/oauth2/upstream/node-op/callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
    {
      client_id: `${opClient}-key`,
      redirect_uris: [`${base}/oauth2/upstream/node-op-key/callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: tesseraKeys.keys },
    },
  ],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email, email_verified: true, name: "Node User" };
      },
    };
  },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  cookies: { keys: ["upstream-test-cookie-key-0123456789"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});
const server = op.listen(Number(opPort));

const config = await oidc.discovery(new URL(base), clientId, {}, oidc.None(), {
  execute: [oidc.allowInsecureRequests], // plain http on loopback, in this test only
});
oidc.enableNonRepudiationChecks(config);

const browser = await launch();

function fail(message) {
  throw new Error(`${message}\n${JSON.stringify(report, null, 1)}`);
}

const shoot = (page, name) => saveShots(page, name, shots, report);

/** Notes what Chromium logs on tessera's pages (the provider's development pages fetch
 * fonts from the internet); a refused sign-in answers 400, which Chromium logs too. */
function listen(page) {
  page.on("console", (m) => {
    const ours = page.url().startsWith(base);
    if (ours && !m.text().startsWith("Failed to load resource: the server responded with a status of 4")) {
      report.console.push(`${m.type()}: ${m.text()}`);
    }
  });
}

async function main() {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  listen(page);

  // tessera's sign-in page offers the provider
  const first = await rp.authorization(config, REDIRECT, { scope: "openid email profile" });
  await page.goto(first.url.href);
  await shoot(page, "signin-with-provider");
  report.button = await page.getByRole("link", { name: "Continue with Node OP", exact: true }).innerText();
  await page.getByRole("link", { name: "Continue with Node OP", exact: true }).click();

  // at the provider: its own login and consent pages
  await page.waitForURL((u) => u.href.startsWith(`http://127.0.0.1:${opPort}/interaction/`));
  report.at_provider = new URL(page.url()).origin;
  await page.fill('input[name="login"]', "node-user-1");
  await page.fill('input[name="password"]', "anything");
  await shoot(page, "provider-login");
  await page.locator('button[type="submit"]').click();
  // the provider's consent page, then back through tessera to the app
  for (let step = 0; step < 3 && !page.url().startsWith(APP); step++) {
    await page.waitForURL((u) => u.href.startsWith(APP) || u.href.includes("/interaction/"));
    if (page.url().includes("/interaction/")) await page.locator('button[type="submit"]').first().click();
  }
  await page.waitForURL((u) => u.href.startsWith(APP));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), first.checks);
  report.claims = tokens.claims();
  await context.close();

  // the same, with tessera authenticating to the provider by its own key
  const byKey = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  const keyed = await byKey.newPage();
  listen(keyed);
  const third = await rp.authorization(config, REDIRECT, { scope: "openid email" });
  await keyed.goto(third.url.href);
  await keyed.getByRole("link", { name: "Continue with Node OP by key" }).click();
  await keyed.waitForURL((u) => u.href.includes("/interaction/"));
  await keyed.fill('input[name="login"]', "node-user-2");
  await keyed.fill('input[name="password"]', "anything");
  await keyed.locator('button[type="submit"]').click();
  for (let step = 0; step < 3 && !keyed.url().startsWith(APP); step++) {
    await keyed.waitForURL((u) => u.href.startsWith(APP) || u.href.includes("/interaction/"));
    if (keyed.url().includes("/interaction/")) await keyed.locator('button[type="submit"]').first().click();
  }
  await keyed.waitForURL((u) => u.href.startsWith(APP));
  const keyTokens = await oidc.authorizationCodeGrant(config, new URL(keyed.url()), third.checks);
  report.key_claims = keyTokens.claims();
  await byKey.close();

  // the user cancels at the provider: tessera's sign-in page says so in its own words
  const again = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  const second = await again.newPage();
  listen(second);
  const another = await rp.authorization(config, REDIRECT, { scope: "openid email", prompt: "login" });
  await second.goto(another.url.href);
  await second.getByRole("link", { name: "Continue with Node OP", exact: true }).click();
  await second.waitForURL((u) => u.href.startsWith(`http://127.0.0.1:${opPort}/interaction/`));
  // devInteractions' "[ Cancel ]" link aborts the interaction (access_denied)
  await second.getByRole("link", { name: /cancel/i }).click();
  await second.waitForURL((u) => u.href.startsWith(`${base}/oauth2/upstream/`));
  report.cancelled_status = (await second.locator("#form-error").count()) ? "sign-in page" : "other";
  report.cancelled_says = await second.locator("#form-error").innerText().catch(() => "");
  await shoot(second, "provider-cancelled");
  await again.close();
}

try {
  await main();
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(JSON.stringify({ ...report, error: String(e.stack || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
