// The widgetsim widget: the stand-in for a live-chat vendor's widget script.
//
// This file is the body of a function: the server serves it as
//
//   (function (config) {
//   <this file>
//   })({"widget":"<widget ID>","prefix":"/widgetsim/","verify":"/widgetsim/verify"});
//
// with the configuration JSON-encoded, so no value reaches the source
// unescaped.
//
// It adds a panel <section id="cw-panel"> to the page and, once its content
// is in place, sets data-state to "verified", "remembered", "anonymous" or
// "error". It builds every node with DOM APIs, puts every value in with
// textContent or an input's value, and styles with element.style only: it
// never parses HTML or code from a string and adds no inline event or style
// attribute, so a name like <img onerror=…> stays text and the widget runs
// under a strict CSP such as script-src 'nonce-…'.
"use strict";

// storageKey is where the last verified visitor's claims are remembered.
var storageKey = "chatwidget:" + config.widget + ":visitor";

// standardClaims are the claims that are not custom fields.
var standardClaims = ["name", "isLoggedIn", "email", "iat", "exp", "nbf", "iss", "aud", "sub", "jti"];

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
  var panel = style(el("section"), {
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
  panel.id = "cw-panel";
  panel.setAttribute("data-state", "loading");
  panel.setAttribute("aria-label", "Chat");
  document.body.appendChild(panel);
  return panel;
}

// render replaces the panel's content with the nodes and then, last, sets
// its state, so that a test waiting for the state finds the content.
function render(panel, state, nodes) {
  while (panel.firstChild) {
    panel.removeChild(panel.firstChild);
  }
  var title = style(el("p", "Chat \u00b7 " + config.widget + " (widgetsim)"), {
    margin: "0 0 0.5em",
    color: "#2b6cb0",
    fontWeight: "bold"
  });
  panel.appendChild(title);
  nodes.forEach(function (n) {
    panel.appendChild(n);
  });
  panel.setAttribute("data-state", state);
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
function showError(panel, reason) {
  forgetVisitor();
  var p = style(el("p", "Identity rejected: " + reason), { margin: "0", color: "#c53030" });
  p.id = "cw-error";
  render(panel, "error", [p]);
}

// verify posts token to the verify endpoint and calls back with the claims
// or the reason the token was rejected.
function verify(token, done) {
  fetch(config.verify, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ widget: config.widget, token: token }),
    credentials: "same-origin",
    cache: "no-store"
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
    .then(function (r) {
      if (r.body && r.body.ok === true && r.body.claims && typeof r.body.claims === "object") {
        done(r.body.claims, "");
      } else if (r.body && typeof r.body.error === "string" && r.body.error !== "") {
        done(null, r.body.error);
      } else {
        done(null, "verify answered HTTP " + r.status);
      }
    })
    .catch(function (e) {
      done(null, "verify request failed: " + String(e && e.message ? e.message : e));
    });
}

// identify asks the page for the token, verifies it and shows the outcome.
function identify(panel) {
  var called = false;
  try {
    window.chatWidgetCustomerData(function (token) {
      if (called) {
        return; // only the first token counts
      }
      called = true;
      verify(String(token), function (claims, reason) {
        if (claims === null) {
          showError(panel, reason);
          return;
        }
        storeVisitor(claims);
        render(panel, "verified", visitorNodes(claims));
      });
    });
  } catch (e) {
    if (!called) {
      called = true;
      showError(panel, "customer data function failed: " + String(e && e.message ? e.message : e));
    }
  }
}

// start builds the panel and fills it according to what the page says.
function start() {
  var panel = newPanel();
  if (typeof window.chatWidgetCustomerData === "function") {
    identify(panel);
    return;
  }
  if (window.chatWidgetAnonymous === true) {
    forgetVisitor(); // the site says nobody is logged in now
    render(panel, "anonymous", anonymousNodes());
    return;
  }
  var remembered = loadVisitor();
  if (remembered !== null) {
    render(panel, "remembered", visitorNodes(remembered));
    return;
  }
  render(panel, "anonymous", anonymousNodes());
}

// A deferred script runs once the document is parsed, before
// DOMContentLoaded; an async one may run after it.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
