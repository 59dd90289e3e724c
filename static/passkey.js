// The hosted sign-in page's passkey button and autofill (WebAuthn Level 3; book § Passkeys).
// Served from tessera's own origin under the page's CSP (script-src 'self'); without
// JavaScript, or in a browser without WebAuthn's JSON helpers, the button stays hidden and
// the password form works as before.
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

  let pending = null;

  async function start() {
    const response = await fetch("/api/v1/session/passkey/options", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: "{}",
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
      NotAllowedError:
        "The passkey sign-in was cancelled or timed out. Try again, or sign in with your password.",
      SecurityError: "This page may not use passkeys. Sign in with your password.",
      InvalidStateError: "That passkey cannot be used here. Try another, or sign in with your password.",
      Throttled: "Too many attempts. Wait a minute, then try again.",
      Unavailable: "Passkeys cannot be used right now. Sign in with your password.",
    };
    message.textContent =
      sentences[error.name] || "The passkey could not be used. Try again, or sign in with your password.";
    message.hidden = false;
  }

  button.addEventListener("click", () => {
    message.hidden = true;
    signIn("optional").catch(say);
  });

  if (typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
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
