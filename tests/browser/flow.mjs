// The authorization-code flow with PKCE in a real headless browser (Debian's Chromium,
// driven by playwright-core, JavaScript turned off) with a certified relying-party
// library, openid-client, as the client: sign-in, the TOTP step, consent, the SSO skip,
// prompt=none with and without a session, a refresh, RP-initiated logout, and what is
// left after it. Every page is saved at phone and desktop width.
//
// usage: node flow.mjs BASE_URL CLIENT_ID APP_URL EMAIL PASSWORD TOTP_CODE SHOTS_DIR
// The client must be third-party (consent) with redirect URI APP_URL/cb and post-logout
// URI APP_URL/signed-out, where the test answers as the app (a redirect's target cannot
// be intercepted in the browser). Prints a JSON report; exits 1 on a failure.

import { mkdirSync } from "node:fs";
import * as oidc from "openid-client";
import { launch } from "./chromium.mjs";
import * as rp from "./rp.mjs";
import { shoot as saveShots } from "./shots.mjs";

const [base, clientId, APP, email, password, totpCode, shots] = process.argv.slice(2);
const REDIRECT = `${APP}/cb`;
const SIGNED_OUT = `${APP}/signed-out`;
const report = { pages: [], console: [] };
mkdirSync(shots, { recursive: true });

// The test server listens on a port of its own, while its issuer names the configured
// one: the metadata is taken as served, with the endpoints moved to that port.
const metadata = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
for (const key of ["authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"]) {
  metadata[key] = metadata[key].replace(metadata.issuer, base);
}
const config = new oidc.Configuration(metadata, clientId, {}, oidc.None());
oidc.allowInsecureRequests(config); // plain http on loopback, in this test only
oidc.enableNonRepudiationChecks(config); // the ID token's signature, against the JWKS

const browser = await launch();

async function newPage() {
  const context = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 1280, height: 800 },
  });
  const page = await context.newPage();
  // a refused sign-in and the error page answer 4xx, which Chromium logs: anything else
  // (a CSP violation, say) is a fault
  page.on("console", (m) => {
    if (!m.text().startsWith("Failed to load resource: the server responded with a status of 4")) {
      report.console.push(`${m.type()}: ${m.text()}`);
    }
  });
  page.on("response", (r) => {
    if (r.url().endsWith(".css") && (r.status() !== 200 || !r.headers()["content-type"]?.startsWith("text/css"))) {
      report.console.push(`stylesheet ${r.url()} answered ${r.status()}`);
    }
    // a page's own 4xx is expected (see above); a sub-resource's (an icon, say) is a fault
    if (r.request().resourceType() !== "document" && r.status() >= 400) {
      report.console.push(`${r.request().resourceType()} ${r.url()} answered ${r.status()}`);
    }
  });
  return page;
}

/** Saves the page at desktop and phone width. */
const shoot = (page, name) => saveShots(page, name, shots, report);

/** A new authorization: its URL and the checks its answer must pass. */
async function authorization(extra = {}) {
  const { url, checks } = await rp.authorization(config, REDIRECT, extra);
  return { url: url.href, checks };
}

/** Follows an authorization that needs no form; returns where the browser ended. */
async function silently(page, extra) {
  const { url, checks } = await authorization(extra);
  await page.goto(url);
  return { back: new URL(page.url()), checks };
}

function fail(message) {
  throw new Error(`${message}\n${JSON.stringify(report, null, 1)}`);
}

try {
  const page = await newPage();

  // an unknown client: tessera's own error page, never a redirect
  await page.goto(`${base}/oauth2/authorize?response_type=code&client_id=nobody&redirect_uri=${encodeURIComponent(REDIRECT)}`);
  if (!page.url().startsWith(base)) fail(`an unknown client was sent to ${page.url()}`);
  await shoot(page, "error");

  // sign-in (a wrong password first), the TOTP step, consent
  const first = await authorization();
  await page.goto(first.url);
  await shoot(page, "signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(`${password}-wrong`);
  await page.getByRole("button", { name: "Sign in" }).click();
  report.wrong_password_says = (await page.getByRole("alert").textContent()).trim();
  await shoot(page, "signin-refused");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await shoot(page, "mfa");
  await page.getByLabel("Code", { exact: true }).fill(totpCode);
  await page.getByRole("button", { name: "Verify" }).click();
  await shoot(page, "consent");
  await page.getByRole("button", { name: "Allow" }).click();
  if (!page.url().startsWith(REDIRECT)) fail(`consent led to ${page.url()}`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), first.checks);
  const claims = tokens.claims();
  report.first = {
    email: claims.email,
    amr: claims.amr,
    has_sid: typeof claims.sid === "string",
    has_at_hash: typeof claims.at_hash === "string",
    has_refresh_token: typeof tokens.refresh_token === "string",
  };

  // the SSO session answers a second authorization with no page at all
  const again = await silently(page);
  report.sso_skipped_the_form = again.back.href.startsWith(REDIRECT) && again.back.searchParams.has("code");
  const second = await oidc.authorizationCodeGrant(config, again.back, again.checks);
  // the same sign-in (auth_time), a session (sid: a refresh family) of its own
  report.same_auth_time = second.claims().auth_time === claims.auth_time;
  report.new_sid = second.claims().sid !== claims.sid;

  // prompt=none: a code with the session; login_required without one
  const none = await silently(page, { prompt: "none" });
  report.prompt_none_with_session = (await oidc.authorizationCodeGrant(config, none.back, none.checks)).claims().sub === claims.sub;
  const stranger = await newPage();
  const cold = await silently(stranger, { prompt: "none" });
  report.prompt_none_without_session = cold.back.searchParams.get("error");
  report.prompt_none_state_echoed = cold.back.searchParams.get("state") === cold.checks.expectedState;

  // a refresh rotates the refresh token
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  report.refreshed = typeof refreshed.access_token === "string" && refreshed.refresh_token !== tokens.refresh_token;

  // RP-initiated logout: back to the registered URI with state; the session is over
  const logoutState = oidc.randomState();
  await page.goto(
    oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: SIGNED_OUT,
      state: logoutState,
    }).href,
  );
  const out = new URL(page.url());
  report.logout_returned = out.origin + out.pathname === SIGNED_OUT && out.searchParams.get("state") === logoutState;
  const after = await silently(page, { prompt: "none" });
  report.prompt_none_after_logout = after.back.searchParams.get("error");
  try {
    await oidc.refreshTokenGrant(config, refreshed.refresh_token);
    report.refresh_after_logout = "accepted";
  } catch (e) {
    report.refresh_after_logout = e.error ?? String(e);
  }

  // tessera's own signed-out page, when no client is named
  await page.goto(`${base}/oauth2/logout`);
  await shoot(page, "signed-out");
  console.log(JSON.stringify(report));
} catch (e) {
  console.error(e.stack ?? String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
