// Stand-in for a chat vendor's widget, served by the chatwidget demo at
// /widget/WIDGET_ID.js. Instead of a chat it shows, in a panel at the bottom
// right of the page, what the vendor would learn about the visitor.
//
// The token is decoded WITHOUT verifying its signature: this only shows what
// the page hands over. A real vendor verifies the RS256 signature with the
// public key pasted into its settings (a later version of the demo adds a
// vendor simulator that does so). Never trust an unverified token.
//
// Every value from the token reaches the page through textContent, never
// innerHTML, so a name like <img onerror=…> stays text.
(function () {
  "use strict";

  // Claims that are not custom fields.
  var standard = ["name", "isLoggedIn", "email", "iat", "exp", "iss", "aud", "sub"];

  // The widget ID, taken from this script's URL while it runs.
  var script = document.currentScript;
  var match = script && /\/widget\/([^\/?#]+)\.js/.exec(script.src);
  var widgetID = match ? match[1] : "?";

  // decodePayload returns the claims of a compact JWS, unverified: the middle
  // part, base64url-decoded, as UTF-8 JSON.
  function decodePayload(token) {
    var parts = token.split(".");
    if (parts.length !== 3) {
      throw new Error("not a compact JWS");
    }
    var b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4 !== 0) {
      b64 += "=";
    }
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      bytes[i] = bin.charCodeAt(i);
    }
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  // line appends a paragraph holding text to the panel.
  function line(panel, text, bold) {
    var p = document.createElement("p");
    p.style.margin = "0.25em 0";
    if (bold) {
      p.style.fontWeight = "bold";
    }
    p.textContent = text;
    panel.appendChild(p);
  }

  // showVisitor writes the visitor the claims describe into the panel.
  function showVisitor(panel, claims) {
    line(panel, "Chatting as " + claims.name, true);
    if (claims.email) {
      line(panel, "email: " + claims.email);
    }
    Object.keys(claims).forEach(function (label) {
      if (standard.indexOf(label) < 0) {
        line(panel, label + ": " + String(claims[label]));
      }
    });
    var note = document.createElement("p");
    note.style.cssText = "margin:0.5em 0 0;font-size:85%;color:#666";
    note.textContent = "Decoded from the token, signature not verified.";
    panel.appendChild(note);
  }

  // newPanel adds the widget's fixed-position panel to the page.
  function newPanel() {
    var panel = document.createElement("aside");
    panel.id = "chatwidget-demo-panel";
    panel.style.cssText = [
      "position:fixed", "right:1em", "bottom:1em", "z-index:2147483647",
      "max-width:22em", "padding:0.75em 1em", "background:#fff",
      "border:2px solid #2b6cb0", "border-radius:0.5em",
      "box-shadow:0 2px 8px rgba(0,0,0,.25)", "font:14px/1.4 system-ui,sans-serif",
    ].join(";");
    var title = document.createElement("p");
    title.style.cssText = "margin:0 0 0.5em;color:#2b6cb0;font-weight:bold";
    title.textContent = "Chat widget " + widgetID + " (demo stand-in)";
    panel.appendChild(title);
    document.body.appendChild(panel);
    return panel;
  }

  // start builds the panel and fills it with what the page hands over.
  function start() {
    var panel = newPanel();
    if (typeof window.chatWidgetCustomerData !== "function") {
      line(panel, "Anonymous visitor \u2013 who are you?", true);
      return;
    }
    window.chatWidgetCustomerData(function (token) {
      try {
        showVisitor(panel, decodePayload(String(token)));
      } catch (e) {
        line(panel, "Cannot read the token: " + e.message, true);
      }
    });
  }

  // A deferred script runs once the document is parsed, before
  // DOMContentLoaded; an async one may run after it.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
