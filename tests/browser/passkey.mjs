// Passkeys in a real browser (book § Passkeys): headless Chromium (Debian's, driven by
// playwright-core, JavaScript on) with a CDP virtual authenticator (`WebAuthn.enable`,
// `WebAuthn.addVirtualAuthenticator`: ctap2, internal, resident keys, user verification).
// A passkey is added from the account API (the page's own `fetch` and
// `navigator.credentials.create()`), then the user signs in to a relying party,
// openid-client, with nothing but that passkey: the hosted sign-in page's "Sign in with a
// passkey" button, consent, the code back at the app; then by autofill; then as the second
// factor after the password (the user has TOTP too), where a refused answer leaves the
// sign-in open for another try. A cancelled ceremony's sentence and every page state are
// saved at phone and desktop width.
//
// usage: node passkey.mjs BASE_URL CLIENT_ID APP_URL ACCESS_TOKEN SHOTS_DIR EMAIL PASSWORD
// BASE_URL is the issuer (http://localhost:PORT: WebAuthn refuses IP addresses). Prints a
// JSON report; exits 1 on a failure.

import { mkdirSync } from "node:fs";
import * as oidc from "openid-client";
import { launch } from "./chromium.mjs";
import * as rp from "./rp.mjs";
import { shoot as saveShots } from "./shots.mjs";

const [base, clientId, APP, accessToken, shots, email, password] = process.argv.slice(2);
const REDIRECT = `${APP}/cb`;
const report = { pages: [], console: [] };
mkdirSync(shots, { recursive: true });

const config = await oidc.discovery(new URL(base), clientId, {}, oidc.None(), {
  execute: [oidc.allowInsecureRequests], // plain http on loopback, in this test only
});
oidc.enableNonRepudiationChecks(config);

const browser = await launch();

function fail(message) {
  throw new Error(`${message}\n${JSON.stringify(report, null, 1)}`);
}

/** Saves the page at desktop and phone width. */
const shoot = (page, name) => saveShots(page, name, shots, report);

/** A platform authenticator that holds passkeys and verifies its user, answering at once. */
const PLATFORM = {
  protocol: "ctap2",
  transport: "internal",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

async function main() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: PLATFORM });

  // a passkey added from the account API, by a page of the SPA in tessera's origin (the
  // API's own answers carry `default-src 'none'`, so the test serves that page itself)
  await page.route(`${base}/account`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>Account</title><p>account" }),
  );
  await page.goto(`${base}/account`);
  report.registered = await page.evaluate(async (token) => {
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const options = await (await fetch("/api/v1/me/passkeys/options", { method: "POST", headers: auth, body: "{}" })).json();
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    const body = JSON.stringify({ ceremony: options.ceremony, credential: credential.toJSON(), name: "Chromium" });
    const added = await fetch("/api/v1/me/passkeys", { method: "POST", headers: auth, body });
    return { status: added.status, body: await added.json() };
  }, accessToken);
  if (report.registered.status !== 200) fail("the passkey was not registered");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  report.resident_credentials = credentials.filter((c) => c.isResidentCredential).length;

  // the relying party's authorization: the sign-in page offers the passkey. Here the
  // browser offers no autofill (the virtual authenticator would answer a conditional
  // request at once), so the button is what signs in; autofill comes last
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  const { url, checks } = await rp.authorization(config, REDIRECT);
  await page.goto(url.href);
  const button = page.getByRole("button", { name: /passkey/i });
  await button.waitFor({ state: "visible" });
  report.email_autocomplete = await page.getByLabel("Email").getAttribute("autocomplete");
  await shoot(page, "signin-passkey");

  // a cancelled ceremony: the user is told in a sentence, and the password form remains
  await page.evaluate(() => {
    // the browser's own dialog would wait for the user: abort as a user's cancel does
    const original = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options) => {
      const refused = new DOMException("The operation either timed out or was not allowed.", "NotAllowedError");
      return options.mediation === "conditional" ? original(options) : Promise.reject(refused);
    };
  });
  await button.click();
  const alert = page.locator("#passkey-error");
  await alert.waitFor({ state: "visible" });
  report.cancelled_says = (await alert.textContent()).trim();
  await shoot(page, "signin-passkey-cancelled");
  report.password_form_remains = await page.getByLabel("Password").isVisible();
  await page.reload();

  // the passkey, and nothing else typed
  await page.getByRole("button", { name: /passkey/i }).click();
  await page.getByRole("button", { name: "Allow" }).waitFor();
  await shoot(page, "consent-after-passkey");
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL((u) => u.href.startsWith(REDIRECT));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  const claims = tokens.claims();
  report.signed_in = { email: claims.email, amr: claims.amr };

  // autofill: a browser that offers conditional mediation completes the page's
  // conditional request when the user picks the passkey (the virtual authenticator picks
  // it at once); prompt=login asks for a sign-in although the browser has a session
  const autofill = await context.newPage();
  autofill.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
  const cdp2 = await context.newCDPSession(autofill);
  await cdp2.send("WebAuthn.enable", { enableUI: false });
  const second = await cdp2.send("WebAuthn.addVirtualAuthenticator", { options: PLATFORM });
  const { credentials: held } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  await cdp2.send("WebAuthn.addCredential", { authenticatorId: second.authenticatorId, credential: held[0] });
  const again = await rp.authorization(config, REDIRECT, { prompt: "login" });
  await autofill.goto(again.url.href);
  await autofill.waitForURL((u) => u.href.startsWith(REDIRECT));
  const autofilled = await oidc.authorizationCodeGrant(config, new URL(autofill.url()), again.checks);
  report.autofill_signed_in = { email: autofilled.claims().email, amr: autofilled.claims().amr };

  // the second factor: the password, then the passkey instead of a code. The first
  // authenticator takes the passkey back as the second left it (a synced passkey): with
  // its own older sign counter tessera would refuse it as a clone
  const { credentials: latest } = await cdp2.send("WebAuthn.getCredentials", { authenticatorId: second.authenticatorId });
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId });
  await cdp.send("WebAuthn.addCredential", { authenticatorId, credential: latest[0] });
  const mfa = await rp.authorization(config, REDIRECT, { prompt: "login" });
  await page.goto(mfa.url.href);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const use = page.getByRole("button", { name: /passkey/i });
  await use.waitFor({ state: "visible" });
  report.code_field_remains = await page.getByLabel("Code", { exact: true }).isVisible();
  await shoot(page, "mfa-passkey");
  // an answer that is not a passkey's: refused in a sentence (a 400 page, which the
  // browser's console reports: that one message is expected), the sign-in still open
  const heard = report.console.length;
  await page.evaluate(() => {
    const form = document.getElementById("passkey-form");
    form.elements.ceremony.value = "tsp_forged";
    form.elements.credential.value = "{}";
    form.submit();
  });
  await page.locator("#form-error").waitFor();
  const expected = (m) => /status of 400/.test(m);
  report.console = report.console.filter((m, i) => i < heard || !expected(m));
  report.refused_second_says = (await page.locator("#form-error").textContent()).trim();
  await shoot(page, "mfa-passkey-refused");
  await page.getByRole("button", { name: /passkey/i }).click();
  await page.waitForURL((u) => u.href.startsWith(REDIRECT));
  const both = await oidc.authorizationCodeGrant(config, new URL(page.url()), mfa.checks);
  report.second_factor_signed_in = { email: both.claims().email, amr: both.claims().amr };
}

await main()
  .then(() => console.log(JSON.stringify(report)))
  .catch((e) => {
    console.error(e.stack ?? String(e));
    process.exitCode = 1;
  })
  .finally(() => browser.close());
