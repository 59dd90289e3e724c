// What both browser scripts do as a relying party (openid-client): a new authorization
// request with PKCE (S256), state and nonce.
import * as oidc from "openid-client";

/**
 * A new authorization request of `config` back to `redirect`, with `extra` parameters (an
 * undefined one is left out): its URL, its parameters and the checks its answer must pass.
 */
export async function authorization(config, redirect, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = {
    pkceCodeVerifier: verifier,
    expectedState: oidc.randomState(),
    expectedNonce: oidc.randomNonce(),
    idTokenExpected: true,
  };
  const params = {
    redirect_uri: redirect,
    scope: "openid email",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v === undefined) delete params[k];
  return { url: oidc.buildAuthorizationUrl(config, params), params, checks };
}
