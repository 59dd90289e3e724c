// The hosted pages' passkey button (WebAuthn Level 3; book § Passkeys): on the sign-in page
// with autofill, and on the second-factor page, where the ceremony is started for the
// pending sign-in (its mfa_token) and lists that user's passkeys. Served from tessera's
// own origin under the page's CSP (script-src 'self'); without JavaScript, or in a browser
// without WebAuthn's JSON helpers, the button stays hidden and the password and code
// forms work as before.
"use strict";
(function () {
  const form = document.getElementById("passkey-form");
  const button = document.getElementById("passkey-button");
  const message = document.getElementById("passkey-error");
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.prototype.toJSON === "function";
  if (!form || !button || !message || !supported) return;
  button.hidden = false;
  // the second-factor page's form carries the pending sign-in's token
  const mfaToken = form.elements.mfa_token ? form.elements.mfa_token.value : null;
  const fallback = mfaToken ? "enter a code from your authenticator app" : "sign in with your password";

  let pending = null;

  async function start() {
    const response = await fetch("/api/v1/session/passkey/options", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(mfaToken ? { mfa_token: mfaToken } : {}),
    });
    if (!response.ok) {
      const error = new Error("options");
      error.name = response.status === 429 ? "Throttled" : "Unavailable";
      throw error;
    }
    return response.json();
  }

  // asks the browser for a passkey; `mediation` "conditional" waits for the user to pick
  // one from the email field's autofill, "optional" opens the browser's dialog now
  async function signIn(mediation) {
    if (pending) pending.abort();
    const controller = new AbortController();
    pending = controller;
    const options = await start();
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      mediation,
      signal: controller.signal,
    });
    form.elements.ceremony.value = options.ceremony;
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  function say(error) {
    if (error.name === "AbortError") return;
    const sentences = {
      NotAllowedError: `The passkey request was cancelled or timed out. Try again, or ${fallback}.`,
      SecurityError: `This page may not use passkeys. Please ${fallback}.`,
      InvalidStateError: `That passkey cannot be used here. Try another, or ${fallback}.`,
      Throttled: "Too many attempts. Wait a minute, then try again.",
      Unavailable: `Passkeys cannot be used right now. Please ${fallback}.`,
    };
    message.textContent =
      sentences[error.name] || `The passkey could not be used. Try again, or ${fallback}.`;
    message.hidden = false;
  }

  button.addEventListener("click", () => {
    message.hidden = true;
    signIn("optional").catch(say);
  });

  // autofill belongs to the sign-in page's email field; the second step has none
  if (!mfaToken && typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
    PublicKeyCredential.isConditionalMediationAvailable()
      .then((available) => {
        if (available) return signIn("conditional");
      })
      .catch((error) => {
        // autofill that found nothing to offer is not an error to show
        if (error.name !== "NotAllowedError") say(error);
      });
  }
})();
