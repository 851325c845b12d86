// Countersign approval page: the passkey step. Loaded (deferred) only where the page offers
// one. It shows the passkey buttons where the browser has passkeys; a button asks the BFF for
// the ceremony's options, lets the browser make the credential, and posts it in the button's
// own form. The page works without this script: the code sign-in is always there.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var GENERAL = "Passkeys do not work right now. Use a code instead.";

  function bytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function text(buffer) {
    if (!buffer) return null;
    var view = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < view.length; i++) raw += String.fromCharCode(view[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function ids(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: bytes(item.id) });
    });
  }

  // A sentence for the customer (anything else that fails gets the general one).
  function Refused(sentence) {
    this.sentence = sentence;
  }

  function say(form, sentence) {
    var notice = form.querySelector("[data-passkey-error]");
    notice.textContent = sentence;
    notice.hidden = false;
  }

  async function run(form) {
    var fields = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "credential") fields.append(name, value);
    });
    var answer = await fetch("/api/approval-passkey-options", {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/json" },
      body: fields,
    });
    if (!answer.ok) {
      var refusal = await answer.json().catch(function () { return {}; });
      throw new Refused(refusal.error || GENERAL);
    }
    var options = JSON.parse(await answer.json()).publicKey;
    options.challenge = bytes(options.challenge);
    var adding = !!options.user;
    var credential;
    try {
      if (adding) {
        options.user = Object.assign({}, options.user, { id: bytes(options.user.id) });
        options.excludeCredentials = ids(options.excludeCredentials);
        credential = await navigator.credentials.create({ publicKey: options });
      } else {
        options.allowCredentials = ids(options.allowCredentials);
        credential = await navigator.credentials.get({ publicKey: options });
      }
    } catch (error) {
      throw new Refused(
        adding
          ? "The passkey was not added. You can try again, or answer below."
          : "No passkey for this request was used. Try again, or get a code instead.",
      );
    }
    var response = credential.response;
    var made = adding
      ? {
          clientDataJSON: text(response.clientDataJSON),
          attestationObject: text(response.attestationObject),
          transports: response.getTransports ? response.getTransports() : undefined,
        }
      : {
          clientDataJSON: text(response.clientDataJSON),
          authenticatorData: text(response.authenticatorData),
          signature: text(response.signature),
          userHandle: text(response.userHandle),
        };
    form.elements.credential.value = JSON.stringify({
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: made,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    });
    form.submit();
  }

  document.querySelectorAll("[data-passkey]").forEach(function (section) {
    section.hidden = false;
  });
  document.querySelectorAll("[data-passkey-start]").forEach(function (button) {
    var form = button.form;
    button.addEventListener("click", function () {
      button.disabled = true;
      run(form).catch(function (error) {
        say(form, error instanceof Refused ? error.sentence : GENERAL);
        button.disabled = false;
      });
    });
  });
})();
