// The widgetsim widget: the stand-in for a live-chat vendor's widget script.
//
// This file is the body of a function: the server serves it as
//
//   (function (config) {
//   <this file>
//   })({"widget":"<widget ID>","prefix":"/widgetsim/","verify":"/widgetsim/verify",
//       "skew":30000,"expiredHook":"chatWidgetTokenExpired"});
//
// with the configuration JSON-encoded, so no value reaches the source
// unescaped.
//
// It adds a panel <section id="cw-panel"> to the page and, once its content
// is in place, sets data-state to "verified", "remembered", "anonymous" or
// "error". Like a real vendor's widget it keeps the token it verified and
// asks the vendor again once the token's exp (plus the vendor's leeway) has
// passed; window.ChatWidgetSim.setToken and .logout let the site hand it a
// fresh token or tell it that nobody is logged in any more. It builds every
// node with DOM APIs, puts every value in with
// textContent or an input's value, and styles with element.style only: it
// never parses HTML or code from a string and adds no inline event or style
// attribute, so a name like <img onerror=…> stays text and the widget runs
// under a strict CSP such as script-src 'nonce-…'.
"use strict";

// storageKey is where the last verified visitor's claims are remembered.
var storageKey = "chatwidget:" + config.widget + ":visitor";

// standardClaims are the claims that are not custom fields.
var standardClaims = ["name", "isLoggedIn", "email", "iat", "exp", "nbf", "iss", "aud", "sub", "jti"];

// reasonExpired is the reason the vendor gives for a token past its exp.
var reasonExpired = "token expired";

// expiryMargin is how long, in milliseconds, after a token's exp and the
// vendor's leeway (config.skew) the widget asks the vendor about it again.
var expiryMargin = 250;

// maxDelay is the longest delay setTimeout honours; it runs a callback with
// a longer one at once.
var maxDelay = 0x7fffffff;

// maxRetry bounds the wait between checks of a token that the vendor still
// accepts after the widget expected it to expire (clocks that disagree).
var maxRetry = 60000;

// The widget's state, shared by the page's calls and the timers.
var panel = null; // the panel, made by start or by the first API call
var current = null; // {token, exp}: the token verified last, while it holds
var expiryTimer = 0; // the check of current at its expiry
var retryDelay = 1000; // the next wait when the vendor still accepts current
var checks = 0; // numbers each check; only the latest one's answer counts
var tokensSeen = {}; // every token verified, as keys
var tokenCount = 0; // how many keys tokensSeen has

// el returns a new element named tag holding text, if any.
function el(tag, text) {
  var e = document.createElement(tag);
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

// style sets the style properties in props on e.
function style(e, props) {
  Object.keys(props).forEach(function (p) {
    e.style[p] = props[p];
  });
  return e;
}

// loadVisitor returns the remembered claims, or null.
function loadVisitor() {
  var raw;
  try {
    raw = window.localStorage.getItem(storageKey);
  } catch (e) {
    return null; // storage disabled
  }
  if (raw === null) {
    return null;
  }
  try {
    var claims = JSON.parse(raw);
    if (claims && typeof claims === "object" && typeof claims.name === "string" && claims.name !== "") {
      return claims;
    }
  } catch (e) {
    // fall through: not JSON
  }
  forgetVisitor();
  return null;
}

// storeVisitor remembers claims as the visitor.
function storeVisitor(claims) {
  try {
    window.localStorage.setItem(storageKey, JSON.stringify(claims));
  } catch (e) {
    // storage disabled or full: nothing to remember
  }
}

// forgetVisitor removes the remembered visitor.
function forgetVisitor() {
  try {
    window.localStorage.removeItem(storageKey);
  } catch (e) {
    // storage disabled: nothing remembered
  }
}

// newPanel adds the widget's fixed-position panel, in state "loading".
function newPanel() {
  var p = style(el("section"), {
    position: "fixed",
    right: "1em",
    bottom: "1em",
    zIndex: "2147483647",
    maxWidth: "22em",
    padding: "0.75em 1em",
    background: "#fff",
    color: "#1a202c",
    border: "2px solid #2b6cb0",
    borderRadius: "0.5em",
    boxShadow: "0 2px 8px rgba(0,0,0,.25)",
    font: "14px/1.4 system-ui, sans-serif"
  });
  p.id = "cw-panel";
  p.setAttribute("data-tokens", "0");
  p.setAttribute("data-state", "loading");
  p.setAttribute("aria-label", "Chat");
  document.body.appendChild(p);
  return p;
}

// thePanel returns the panel, made on first use.
function thePanel() {
  if (panel === null) {
    panel = newPanel();
  }
  return panel;
}

// render replaces the panel's content with the nodes and then, last, sets
// its state, so that a test waiting for the state finds the content.
function render(state, nodes) {
  var p = thePanel();
  while (p.firstChild) {
    p.removeChild(p.firstChild);
  }
  var title = style(el("p", "Chat \u00b7 " + config.widget + " (widgetsim)"), {
    margin: "0 0 0.5em",
    color: "#2b6cb0",
    fontWeight: "bold"
  });
  p.appendChild(title);
  nodes.forEach(function (n) {
    p.appendChild(n);
  });
  p.setAttribute("data-state", state);
}

// visitorNodes returns the elements that show the visitor the claims
// describe: the name, the email and the custom fields sorted by label.
function visitorNodes(claims) {
  var name = style(el("h2", "Chatting as " + String(claims.name)), {
    margin: "0 0 0.5em",
    fontSize: "1.1em"
  });
  name.id = "cw-name";

  var email = style(el("input"), { width: "100%", boxSizing: "border-box" });
  email.id = "cw-email";
  email.type = "text";
  email.readOnly = true;
  email.setAttribute("aria-label", "Email");
  // Both the value attribute and the live value, for whichever a test reads.
  email.defaultValue = claims.email === undefined || claims.email === null ? "" : String(claims.email);
  email.value = email.defaultValue;

  var fields = style(el("dl"), { margin: "0.5em 0 0" });
  fields.id = "cw-fields";
  Object.keys(claims)
    .filter(function (label) {
      return standardClaims.indexOf(label) < 0;
    })
    .sort()
    .forEach(function (label) {
      fields.appendChild(style(el("dt", label), { fontWeight: "bold" }));
      fields.appendChild(style(el("dd", String(claims[label])), { margin: "0 0 0.25em 1em" }));
    });
  return [name, email, fields];
}

// anonymousNodes returns the form that asks an anonymous visitor who they
// are. It is never submitted.
function anonymousNodes() {
  var form = el("form");
  form.id = "cw-anon";
  form.addEventListener("submit", function (e) {
    e.preventDefault();
  });
  form.appendChild(style(el("h2", "Who are you?"), { margin: "0 0 0.5em", fontSize: "1.1em" }));
  [["cw-anon-name", "Name", "text", "name"], ["cw-anon-email", "Email", "email", "email"]].forEach(function (f) {
    var label = style(el("label", f[1]), { display: "block", marginTop: "0.25em" });
    label.htmlFor = f[0];
    var input = style(el("input"), { width: "100%", boxSizing: "border-box" });
    input.id = f[0];
    input.name = f[3];
    input.type = f[2];
    input.autocomplete = f[3];
    form.appendChild(label);
    form.appendChild(input);
  });
  return [form];
}

// showError forgets the remembered visitor and shows why the identity was
// rejected, and no identity at all.
function showError(reason) {
  forgetVisitor();
  var p = style(el("p", "Identity rejected: " + reason), { margin: "0", color: "#c53030" });
  p.id = "cw-error";
  render("error", [p]);
}

// errorText returns what an exception says.
function errorText(e) {
  return String(e && e.message ? e.message : e);
}

// verify posts token to the verify endpoint and calls back, once, with the
// claims or the reason the token was rejected. An exception thrown by done
// is not taken for a failed request: it reaches the console.
//
// The Sim is served from the page's origin (its verify endpoint sends no
// CORS headers), so the endpoint's path resolves against location.origin:
// never against the document's base URL, which a <base href> in the page's
// markup could point at another host, which would then get the token.
function verify(token, done) {
  Promise.resolve()
    .then(function () {
      return fetch(new URL(config.verify, location.origin).href, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ widget: config.widget, token: token }),
        credentials: "same-origin",
        cache: "no-store"
      });
    })
    .then(function (resp) {
      return resp.json().then(
        function (body) {
          return { status: resp.status, body: body };
        },
        function () {
          return { status: resp.status, body: null };
        }
      );
    })
    .then(
      function (r) {
        if (r.body && r.body.ok === true && r.body.claims && typeof r.body.claims === "object") {
          return { claims: r.body.claims, reason: "" };
        }
        if (r.body && typeof r.body.error === "string" && r.body.error !== "") {
          return { claims: null, reason: r.body.error };
        }
        return { claims: null, reason: "verify answered HTTP " + r.status };
      },
      function (e) {
        return { claims: null, reason: "verify request failed: " + errorText(e) };
      }
    )
    .then(function (out) {
      done(out.claims, out.reason);
    });
}

// check verifies token and shows the outcome, unless a later check or a
// logout has begun before the vendor answers.
function check(token) {
  var n = ++checks;
  verify(token, function (claims, reason) {
    if (n !== checks) {
      return; // superseded
    }
    if (claims === null) {
      reject(reason);
      return;
    }
    accept(token, claims);
  });
}

// accept keeps token, shows the visitor its claims describe, remembers them
// and sets the check of the token at its expiry.
function accept(token, claims) {
  if (current === null || current.token !== token) {
    retryDelay = 1000;
  }
  if (!Object.prototype.hasOwnProperty.call(tokensSeen, token)) {
    tokensSeen[token] = true;
    tokenCount++;
  }
  current = { token: token, exp: Number(claims.exp) };
  storeVisitor(claims);
  thePanel().setAttribute("data-tokens", String(tokenCount));
  render("verified", visitorNodes(claims));
  armExpiry();
}

// reject drops the token, shows why the vendor rejected it and, when it has
// expired, asks the page for a fresh one through the hook it may define.
function reject(reason) {
  current = null;
  clearTimeout(expiryTimer);
  showError(reason);
  if (reason === reasonExpired) {
    callExpiredHook();
  }
}

// callExpiredHook calls window[config.expiredHook] when the page defines it
// as a function, from a timer of its own, so that what it throws reaches the
// console and nothing else.
function callExpiredHook() {
  var name = config.expiredHook;
  if (typeof name !== "string" || name === "" || typeof window[name] !== "function") {
    return;
  }
  setTimeout(function () {
    window[name]();
  }, 0);
}

// armExpiry sets the check of the current token for when the vendor will
// reject it: expiryMargin after its exp and the vendor's leeway. When that
// time has passed already (the vendor still accepted it), it checks again
// later, waiting twice as long each time up to maxRetry.
function armExpiry() {
  clearTimeout(expiryTimer);
  if (current === null || !isFinite(current.exp)) {
    return; // no token, or one without exp: nothing will expire
  }
  var delay = current.exp * 1000 + (Number(config.skew) || 0) + expiryMargin - Date.now();
  if (delay <= 0) {
    delay = retryDelay;
    retryDelay = Math.min(retryDelay * 2, maxRetry);
  }
  expiryTimer = setTimeout(function () {
    if (current !== null) {
      check(current.token);
    }
  }, Math.min(delay, maxDelay));
}

// setToken is the site's way to hand the widget a fresh token, for instance
// from chatwidget's refresh script: the widget verifies it and, if the vendor
// accepts it, shows its visitor and keeps it in place of the old one.
function setToken(token) {
  thePanel();
  check(String(token));
}

// logout is the site's way to say that nobody is logged in any more: the
// widget drops its token, forgets the visitor and shows the anonymous form.
// An answer of the vendor still on its way no longer counts.
function logout() {
  checks++;
  current = null;
  clearTimeout(expiryTimer);
  forgetVisitor();
  render("anonymous", anonymousNodes());
}

// identify asks the page for the token, verifies it and shows the outcome.
function identify() {
  var called = false;
  try {
    window.chatWidgetCustomerData(function (token) {
      if (called) {
        return; // only the first token counts
      }
      called = true;
      check(String(token));
    });
  } catch (e) {
    if (!called) {
      called = true;
      showError("customer data function failed: " + errorText(e));
    }
  }
}

// start builds the panel and fills it according to what the page says.
function start() {
  thePanel();
  if (typeof window.chatWidgetCustomerData === "function") {
    identify();
    return;
  }
  if (window.chatWidgetAnonymous === true) {
    forgetVisitor(); // the site says nobody is logged in now
    render("anonymous", anonymousNodes());
    return;
  }
  var remembered = loadVisitor();
  if (remembered !== null) {
    render("remembered", visitorNodes(remembered));
    return;
  }
  render("anonymous", anonymousNodes());
}

// The site's handle on the widget; its functions do not use this, so the
// site may call them detached.
window.ChatWidgetSim = { setToken: setToken, logout: logout };

// A deferred script runs once the document is parsed, before
// DOMContentLoaded; an async one may run after it.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
