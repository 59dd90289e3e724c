// One module of the OpenID Foundation's Basic OP and Config OP test plans, re-enacted with
// a certified relying-party library (openid-client) against tessera. The conformance
// suite itself needs a Java build and a database this machine cannot fetch; each module
// here checks what the suite's module of the same name checks, as its public description
// says. The hosted pages are driven with plain HTTP (a small cookie-keeping user agent
// that fills the sign-in and consent forms), since no module needs a script to run.
//
// usage: node oidcc.mjs BASE_URL CLIENT_ID CLIENT_SECRET EMAIL PASSWORD MODULE
// The client must be confidential (client_secret_basic) with the authorization_code and
// refresh_token grants, scopes openid, email and profile, and the redirect URI REDIRECT.
// Prints {"module", "passed", "notes"} as JSON; exits 1 when the module fails.

import * as oidc from "openid-client";
import * as rp from "./rp.mjs";

const [base, clientId, clientSecret, email, password, module] = process.argv.slice(2);
const REDIRECT = "https://rp.example.com/cb";
const notes = [];

// The test server listens on a port of its own, while its issuer names the configured
// one: the metadata is taken as served, with the endpoints moved to that port.
const served = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
const metadata = structuredClone(served);
for (const key of ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"]) {
  metadata[key] = metadata[key].replace(metadata.issuer, base);
}
const config = new oidc.Configuration(metadata, clientId, {}, oidc.ClientSecretBasic(clientSecret));
oidc.allowInsecureRequests(config); // plain http on loopback, in this test only
oidc.enableNonRepudiationChecks(config); // the ID token's signature, against the JWKS

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}

/** A browser without scripts: keeps cookies, follows tessera's redirects, stops at the RP. */
class Agent {
  cookies = new Map();

  async request(url, { method = "GET", form } = {}) {
    const headers = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    let body;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, { method, headers, body, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      if (attributes.some((a) => a.toLowerCase() === "max-age=0")) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** Follows redirects from `url` until the RP's redirect URI or a page of tessera's. */
  async visit(url, options) {
    let response = await this.request(url, options);
    for (let hops = 0; hops < 5; hops++) {
      const location = response.headers.get("location");
      if (!location || ![301, 302, 303, 307].includes(response.status)) break;
      if (location.startsWith(REDIRECT)) return { back: new URL(location), status: response.status };
      response = await this.request(new URL(location, base).href);
    }
    return { page: await response.text(), status: response.status };
  }
}

function hidden(html, name) {
  const found = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  return found ? found[1].replaceAll("&#43;", "+").replaceAll("&#x2b;", "+").replaceAll("&amp;", "&") : undefined;
}
const isSignIn = (html) => html?.includes('name="password"');
const isConsent = (html) => html?.includes('name="decision"');

/** A new authorization request: its URL, parameters and the checks its answer must pass. */
const authorization = (extra = {}) => rp.authorization(config, REDIRECT, extra);

/** Signs in on a sign-in page, allows a consent page; returns where it ends. */
async function complete(agent, outcome) {
  for (let step = 0; step < 3 && outcome.page; step++) {
    const html = outcome.page;
    if (isSignIn(html)) {
      outcome = await agent.visit(`${base}/oauth2/authorize/signin`, {
        method: "POST",
        form: { flow: hidden(html, "flow"), csrf_token: hidden(html, "csrf_token"), email, password },
      });
    } else if (isConsent(html)) {
      outcome = await agent.visit(`${base}/oauth2/authorize/consent`, {
        method: "POST",
        form: { flow: hidden(html, "flow"), csrf_token: hidden(html, "csrf_token"), decision: "allow" },
      });
    } else break;
  }
  return outcome;
}

/** An authorization through to tokens; `form` says whether a sign-in form was shown. */
async function login(agent, extra = {}, { method = "GET" } = {}) {
  const { url, params, checks } = await authorization(extra);
  const first =
    method === "POST"
      ? await agent.visit(`${base}/oauth2/authorize`, { method: "POST", form: { ...params, client_id: clientId, response_type: "code" } })
      : await agent.visit(url.href.replace(metadata.authorization_endpoint, `${base}/oauth2/authorize`));
  const form = isSignIn(first.page);
  const outcome = await complete(agent, first);
  check(outcome.back, `no redirect back to the client: ${outcome.status} ${outcome.page?.slice(0, 300)}`);
  check(!outcome.back.searchParams.get("error"), `an error came back: ${outcome.back.search}`);
  check(outcome.back.searchParams.get("iss") === served.issuer, "the response lacks iss (RFC 9207)");
  const tokens = await oidc.authorizationCodeGrant(config, outcome.back, checks);
  return { tokens, claims: tokens.claims(), form, back: outcome.back, checks };
}

/** Where an authorization that must fail sends the browser back, with its error. */
async function refused(agent, extra) {
  const { url } = await authorization(extra);
  const outcome = await agent.visit(url.href.replace(metadata.authorization_endpoint, `${base}/oauth2/authorize`));
  return outcome;
}

async function userinfo(access, how) {
  const url = `${base}/oauth2/userinfo`;
  const response =
    how === "post-body"
      ? await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ access_token: access }) })
      : await fetch(url, { method: how === "get" ? "GET" : "POST", headers: { authorization: `Bearer ${access}` } });
  return { status: response.status, body: response.status === 200 ? await response.json() : await response.text() };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = () => Math.floor(Date.now() / 1000);

const modules = {
  async "oidcc-server"() {
    const { claims, tokens } = await login(new Agent());
    check(claims.sub && claims.iss === served.issuer && claims.aud === clientId, "ID token claims");
    check(typeof claims.auth_time === "number", "auth_time");
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.sub === claims.sub, "userinfo sub differs from the ID token's");
  },

  async "oidcc-idtoken-kid"() {
    const { tokens } = await login(new Agent());
    const header = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url"));
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    check(header.kid && jwks.keys.some((k) => k.kid === header.kid), `kid ${header.kid} not in the JWKS`);
  },

  async "oidcc-userinfo-get"() {
    const { tokens, claims } = await login(new Agent());
    const info = await userinfo(tokens.access_token, "get");
    check(info.status === 200 && info.body.sub === claims.sub, `GET userinfo: ${info.status}`);
  },

  async "oidcc-userinfo-post-header"() {
    const { tokens, claims } = await login(new Agent());
    const info = await userinfo(tokens.access_token, "post-header");
    check(info.status === 200 && info.body.sub === claims.sub, `POST userinfo (header): ${info.status}`);
  },

  async "oidcc-userinfo-post-body"() {
    const { tokens, claims } = await login(new Agent());
    const info = await userinfo(tokens.access_token, "post-body");
    check(info.status === 200 && info.body.sub === claims.sub, `POST userinfo (body): ${info.status} ${JSON.stringify(info.body)}`);
  },

  async "oidcc-scope-profile"() {
    const { tokens, claims } = await login(new Agent(), { scope: "openid profile" });
    check(tokens.scope?.split(" ").includes("profile"), `scope granted: ${tokens.scope}`);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(!("email" in info), "email without the email scope");
  },

  async "oidcc-scope-email"() {
    const { tokens, claims } = await login(new Agent(), { scope: "openid email" });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.email === email && typeof info.email_verified === "boolean", `userinfo: ${JSON.stringify(info)}`);
  },

  async "oidcc-scope-address"() {
    // not in scopes_supported: the request must still succeed, the scope ignored
    check(!served.scopes_supported.includes("address"), "address is listed");
    const { tokens } = await login(new Agent(), { scope: "openid address" });
    check(!tokens.scope?.includes("address"), `scope granted: ${tokens.scope}`);
  },

  async "oidcc-scope-phone"() {
    check(!served.scopes_supported.includes("phone"), "phone is listed");
    const { tokens } = await login(new Agent(), { scope: "openid phone" });
    check(!tokens.scope?.includes("phone"), `scope granted: ${tokens.scope}`);
  },

  async "oidcc-scope-all"() {
    const { tokens, claims } = await login(new Agent(), { scope: "openid profile email address phone" });
    const granted = tokens.scope.split(" ");
    check(["openid", "profile", "email"].every((s) => granted.includes(s)), `scope granted: ${tokens.scope}`);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.email === email, "email claim");
  },

  async "oidcc-display-page"() {
    await login(new Agent(), { display: "page" });
  },

  async "oidcc-display-popup"() {
    await login(new Agent(), { display: "popup" });
  },

  async "oidcc-prompt-login"() {
    const agent = new Agent();
    const first = await login(agent);
    await sleep(1100);
    const again = await login(agent, { prompt: "login" });
    check(again.form, "prompt=login did not ask to sign in again");
    check(again.claims.auth_time > first.claims.auth_time, "auth_time did not move");
  },

  async "oidcc-prompt-none-not-logged-in"() {
    const outcome = await refused(new Agent(), { prompt: "none" });
    check(outcome.back?.searchParams.get("error") === "login_required", `got ${outcome.back ?? outcome.status}`);
    check(outcome.back.searchParams.get("state"), "state not echoed");
  },

  async "oidcc-prompt-none-logged-in"() {
    const agent = new Agent();
    const first = await login(agent);
    const again = await login(agent, { prompt: "none" });
    check(!again.form && again.claims.sub === first.claims.sub, "prompt=none with a session");
  },

  async "oidcc-max-age-1"() {
    const agent = new Agent();
    const first = await login(agent);
    await sleep(2100);
    const again = await login(agent, { max_age: "1" });
    check(again.form, "max_age=1 did not ask to sign in again");
    check(again.claims.auth_time > first.claims.auth_time, "auth_time did not move");
  },

  async "oidcc-max-age-10000"() {
    const agent = new Agent();
    const first = await login(agent);
    const again = await login(agent, { max_age: "10000" });
    check(!again.form, "max_age=10000 asked again");
    check(again.claims.auth_time === first.claims.auth_time, "auth_time is the first sign-in's");
  },

  async "oidcc-ensure-request-with-unknown-parameter-succeeds"() {
    await login(new Agent(), { extra: "foobar", "x-unknown": "1" });
  },

  async "oidcc-id-token-hint"() {
    const agent = new Agent();
    const first = await login(agent);
    const again = await login(agent, { prompt: "none", id_token_hint: first.tokens.id_token });
    check(!again.form && again.claims.sub === first.claims.sub, "the hinted user's session did not answer");
  },

  async "oidcc-login-hint"() {
    const { url } = await authorization({ login_hint: email });
    const outcome = await new Agent().visit(url.href.replace(metadata.authorization_endpoint, `${base}/oauth2/authorize`));
    check(isSignIn(outcome.page) && outcome.page.includes(`value="${email}"`), "the sign-in form is not filled with login_hint");
  },

  async "oidcc-ui-locales"() {
    await login(new Agent(), { ui_locales: "se" });
  },

  async "oidcc-claims-locales"() {
    await login(new Agent(), { claims_locales: "se" });
  },

  async "oidcc-ensure-request-with-acr-values-succeeds"() {
    await login(new Agent(), { acr_values: "1 2" });
  },

  async "oidcc-codereuse"() {
    await codeReuse(0);
  },

  async "oidcc-codereuse-30seconds"() {
    await codeReuse(30_000);
  },

  async "oidcc-ensure-registered-redirect-uri"() {
    const outcome = await refused(new Agent(), { redirect_uri: "https://attacker.example/cb" });
    check(!outcome.back && outcome.page !== undefined && outcome.status >= 400, `an unregistered redirect_uri was followed: ${outcome.status}`);
  },

  async "oidcc-ensure-post-request-succeeds"() {
    await login(new Agent(), {}, { method: "POST" });
  },

  async "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported"() {
    check(served.request_parameter_supported === false, "request_parameter_supported is not false");
    const { params } = await authorization();
    const object = [
      Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url"),
      Buffer.from(JSON.stringify({ ...params, client_id: clientId, response_type: "code" })).toString("base64url"),
      "",
    ].join(".");
    const outcome = await refused(new Agent(), { request: object });
    check(outcome.back?.searchParams.get("error") === "request_not_supported", `got ${outcome.back ?? outcome.status}`);
  },

  async "oidcc-claims-essential"() {
    const { tokens, claims } = await login(new Agent(), {
      scope: "openid",
      claims: JSON.stringify({ userinfo: { name: { essential: true } } }),
    });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    if (!("name" in info)) notes.push("the claims parameter is not supported: name not returned (the module warns, does not fail)");
  },

  async "oidcc-refresh-token"() {
    const { tokens, claims } = await login(new Agent());
    await sleep(1100);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    check(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token, "no rotated refresh token");
    if (refreshed.id_token) {
      const again = refreshed.claims();
      for (const claim of ["iss", "sub", "aud", "auth_time"]) {
        check(JSON.stringify(again[claim]) === JSON.stringify(claims[claim]), `refreshed ID token's ${claim} differs`);
      }
      check(again.iat >= claims.iat && again.nonce === undefined, "refreshed ID token's iat or nonce");
    }
    const info = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
    check(info.sub === claims.sub, "userinfo with the refreshed token");
  },

  async "oidcc-ensure-pkce-required"() {
    const outcome = await refused(new Agent(), { code_challenge: undefined, code_challenge_method: undefined });
    check(outcome.back?.searchParams.get("error") === "invalid_request", `no PKCE: ${outcome.back ?? outcome.status}`);
  },

  async "oidcc-ensure-pkce-plain-rejected"() {
    const outcome = await refused(new Agent(), { code_challenge: "a".repeat(43), code_challenge_method: "plain" });
    check(outcome.back?.searchParams.get("error") === "invalid_request", `plain: ${outcome.back ?? outcome.status}`);
  },

  async "oidcc-ensure-pkce-verifier-checked"() {
    const agent = new Agent();
    const { url, checks } = await authorization();
    const outcome = await complete(agent, await agent.visit(url.href.replace(metadata.authorization_endpoint, `${base}/oauth2/authorize`)));
    const wrong = { ...checks, pkceCodeVerifier: oidc.randomPKCECodeVerifier() };
    try {
      await oidc.authorizationCodeGrant(config, outcome.back, wrong);
      throw new Failure("a wrong code_verifier was accepted");
    } catch (e) {
      if (e instanceof Failure) throw e;
      check(e.error === "invalid_grant", `wrong verifier: ${e.error ?? e}`);
    }
  },

  async "oidcc-discovery-endpoint-verification"() {
    const required = ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"];
    for (const key of required) check(served[key] !== undefined, `${key} missing`);
    check(served.issuer === new URL(served.issuer).href.replace(/\/$/, ""), "issuer has a trailing slash or is not a URL");
    check(served.id_token_signing_alg_values_supported.includes("RS256"), "RS256 not among the ID token algorithms");
    check(served.response_types_supported.includes("code"), "response type code");
    check(served.scopes_supported.includes("openid"), "scopes_supported lacks openid");
    check(served.userinfo_endpoint && served.claims_supported?.includes("sub"), "userinfo_endpoint / claims_supported");
    check(served.grant_types_supported.includes("authorization_code"), "grant_types_supported");
    check(served.token_endpoint_auth_methods_supported.includes("client_secret_basic"), "client_secret_basic");
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    check(jwks.keys.every((k) => k.kid && k.use === "sig" && !("d" in k)), "JWKS keys");
  },
};

async function codeReuse(wait) {
  const agent = new Agent();
  const { url, checks } = await authorization();
  const outcome = await complete(agent, await agent.visit(url.href.replace(metadata.authorization_endpoint, `${base}/oauth2/authorize`)));
  const tokens = await oidc.authorizationCodeGrant(config, outcome.back, checks);
  await sleep(wait);
  try {
    await oidc.authorizationCodeGrant(config, outcome.back, checks);
    throw new Failure("the code was accepted twice");
  } catch (e) {
    if (e instanceof Failure) throw e;
    check(e.error === "invalid_grant", `second use: ${e.error ?? e}`);
  }
  // RFC 6749 §4.1.2: what the first use issued is revoked
  const info = await userinfo(tokens.access_token, "get");
  check(info.status === 401, `the first use's access token still works after the replay: ${info.status}`);
}

const run = modules[module];
if (!run) {
  console.log(JSON.stringify({ module, passed: false, notes: [`no module ${module}`] }));
  process.exit(1);
}
try {
  await run();
  console.log(JSON.stringify({ module, passed: true, notes }));
} catch (e) {
  console.log(JSON.stringify({ module, passed: false, notes: [...notes, e instanceof Failure ? e.message : (e.stack ?? String(e))] }));
  process.exit(1);
}
