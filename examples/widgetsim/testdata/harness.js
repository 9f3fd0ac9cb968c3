// harness.js runs the widget, as the Sim serves it, in Node with a fake page,
// fake timers and a fake clock, against the Sim itself: fetch goes to the
// test's server, whose Sim reads the clock the harness sets. It is run by
// TestWidgetJS (refresh_test.go):
//
//   node harness.js <server URL> <scenario JSON>
//
// The scenario holds the scripts the Sims serve, the tokens, the names of the
// widget's API and the clock's start. Each case below runs in a page of its
// own; a failure is printed and makes the exit status 1.
"use strict";

const vm = require("node:vm");

const [base, scenarioJSON] = process.argv.slice(2);
const sc = JSON.parse(scenarioJSON);

// A fake element: what widget.js uses of the DOM, and nothing more.
function element(tag) {
  return {
    tagName: tag.toUpperCase(),
    childNodes: [],
    attributes: {},
    style: {},
    textContent: "",
    get firstChild() {
      return this.childNodes.length > 0 ? this.childNodes[0] : null;
    },
    appendChild(c) {
      this.childNodes.push(c);
      return c;
    },
    removeChild(c) {
      this.childNodes.splice(this.childNodes.indexOf(c), 1);
      return c;
    },
    setAttribute(k, v) {
      this.attributes[k] = String(v);
    },
    getAttribute(k) {
      return Object.prototype.hasOwnProperty.call(this.attributes, k) ? this.attributes[k] : null;
    },
    addEventListener() {}
  };
}

// text returns the text of e and its descendants.
function text(e) {
  return e.textContent + e.childNodes.map(text).join("");
}

// find returns the first descendant of e with the given id, or null.
function find(e, id) {
  for (const c of e.childNodes) {
    if (c.id === id) {
      return c;
    }
    const f = find(c, id);
    if (f !== null) {
      return f;
    }
  }
  return null;
}

// setClock sets the Sim's clock to ms, Unix milliseconds.
async function setClock(ms) {
  const r = await fetch(base + "/clock", { method: "POST", body: String(ms) });
  if (!r.ok) {
    throw new Error("POST /clock: " + r.status);
  }
}

// A Page is one document with the widget in it. Its clock starts at the
// scenario's start and moves only with advance.
class Page {
  constructor(script, customerToken, withHook) {
    this.now = sc.start;
    this.timers = new Map();
    this.nextTimer = 1;
    this.pending = 0; // requests whose answer the widget has not handled yet
    this.verifies = 0; // requests to a verify endpoint
    this.hookCalls = 0;
    this.storage = new Map();
    const page = this;
    const body = element("body");
    this.body = body;
    const g = {
      document: {
        readyState: "interactive",
        baseURI: "https://evil.example/", // what a <base href> would make it: never to be used
        body,
        createElement: element,
        addEventListener() {}
      },
      localStorage: {
        getItem: (k) => (page.storage.has(k) ? page.storage.get(k) : null),
        setItem: (k, v) => page.storage.set(k, String(v)),
        removeItem: (k) => page.storage.delete(k)
      },
      Date: { now: () => page.now },
      setTimeout: (fn, ms) => page.setTimeout(fn, ms),
      clearTimeout: (id) => page.timers.delete(id),
      fetch: (url, opts) => page.fetch(url, opts),
      location: { origin: base },
      URL,
      console
    };
    g.window = g;
    if (customerToken !== undefined) {
      g.chatWidgetCustomerData = (done) => done(customerToken);
    }
    if (withHook) {
      g[sc.expiredHook] = () => page.hookCalls++;
    }
    this.global = vm.createContext(g);
    vm.runInContext(script, this.global);
  }

  // setTimeout is the page's: delays beyond what a browser honours run at
  // once, as in a browser.
  setTimeout(fn, ms) {
    const id = this.nextTimer++;
    const d = ms > 0x7fffffff || !(ms > 0) ? 0 : ms;
    this.timers.set(id, { fn, at: this.now + d });
    return id;
  }

  // fetch sends the request to the test's server and answers with the body
  // read already, so that once it settles, what the widget does with it
  // takes microtasks only; pending drops a macrotask later.
  // The widget must resolve its paths against location.origin, never the
  // document's base URL: every URL it fetches is absolute, on base.
  fetch(url, opts) {
    url = String(url);
    if (!url.startsWith(base + "/")) {
      failures++;
      console.log("the widget fetched " + url + ", not a URL on the page's origin " + base);
      return Promise.reject(new Error("not on the page's origin"));
    }
    this.pending++;
    if (url.endsWith("/verify")) {
      this.verifies++;
    }
    const done = () => setImmediate(() => this.pending--);
    return fetch(url, opts).then(
      async (r) => {
        const body = await r.text();
        done();
        return { status: r.status, ok: r.ok, json: async () => JSON.parse(body) };
      },
      (e) => {
        done();
        throw e;
      }
    );
  }

  // due returns the id of the earliest timer due by ms, or 0.
  due(ms) {
    let id = 0;
    let at = Infinity;
    for (const [k, t] of this.timers) {
      if (t.at <= ms && t.at < at) {
        id = k;
        at = t.at;
      }
    }
    return id;
  }

  // runTimer runs the timer id at its time, the Sim's clock set to it.
  async runTimer(id) {
    const t = this.timers.get(id);
    this.timers.delete(id);
    if (t.at !== this.now) {
      this.now = t.at;
      await setClock(this.now);
    }
    t.fn();
  }

  // settle runs what is due now and waits for every answer, until nothing
  // is left to do.
  async settle() {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const id = this.due(this.now);
      if (id !== 0) {
        await this.runTimer(id);
        continue;
      }
      if (this.pending === 0) {
        return;
      }
    }
  }

  // advance moves the clock to ms after the start, running each timer due
  // by then at its time.
  async advance(ms) {
    const to = sc.start + ms;
    await this.settle();
    for (let id = this.due(to); id !== 0; id = this.due(to)) {
      await this.runTimer(id);
      await this.settle();
    }
    this.now = to;
    await setClock(to);
    await this.settle();
  }

  // call calls the widget's function named by the dotted path from window.
  call(path, ...args) {
    let fn = this.global;
    for (const p of path.split(".")) {
      fn = fn == null ? undefined : fn[p];
    }
    if (typeof fn !== "function") {
      throw new Error(path + " is not a function");
    }
    fn(...args); // detached, as chatwidget's refresh script calls it
  }

  // view returns what the panel shows and the widget remembers.
  view() {
    const p = find(this.body, "cw-panel");
    if (p === null) {
      return { state: "no panel" };
    }
    const err = find(p, "cw-error");
    const stored = this.storage.get(sc.storageKey);
    return {
      state: p.getAttribute("data-state"),
      tokens: p.getAttribute("data-tokens"),
      text: text(p),
      error: err === null ? "" : err.textContent,
      stored: stored === undefined ? null : JSON.parse(stored)
    };
  }
}

let failures = 0;

// expect records a failure when got differs from want.
function expect(name, what, got, want) {
  if (got !== want) {
    failures++;
    console.log(`${name}: ${what} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

// isVerified checks that the page shows and remembers the visitor of the
// token whose exp is expSec, as the tokens-th distinct token.
function isVerified(name, page, expSec, tokens) {
  const v = page.view();
  expect(name, "state", v.state, "verified");
  expect(name, "data-tokens", v.tokens, String(tokens));
  expect(name, "panel shows the name", v.text.includes("Chatting as " + sc.name), true);
  expect(name, "stored exp", v.stored && Number(v.stored.exp), expSec);
}

// isAnonymous checks that the page shows the anonymous form and remembers
// nobody.
function isAnonymous(name, page) {
  const v = page.view();
  expect(name, "state", v.state, "anonymous");
  expect(name, "stored visitor", v.stored, null);
  expect(name, "panel shows the name", v.text.includes(sc.name), false);
}

// isError checks that the page shows the reason and remembers nobody.
function isError(name, page, reason) {
  const v = page.view();
  expect(name, "state", v.state, "error");
  expect(name, "#cw-error", v.error, "Identity rejected: " + reason);
  expect(name, "stored visitor", v.stored, null);
}

const cases = {
  // The site hands fresh tokens before exp: the widget keeps the visitor
  // past the first token's exp, checks the last one at its exp, and calls
  // the hook when the vendor says it has expired.
  async "refresh and expiry"(name) {
    const tk = sc.tokens;
    const p = new Page(sc.scripts.strict, tk.first.token, true);
    await p.settle();
    isVerified(name + " (page's token)", p, tk.first.exp, 1);
    p.call(sc.update, tk.second.token);
    await p.settle();
    isVerified(name + " (fresh token)", p, tk.second.exp, 2);
    p.call(sc.update, tk.second.token);
    await p.settle();
    isVerified(name + " (same token again)", p, tk.second.exp, 2);
    const before = p.verifies;
    await p.advance((tk.first.exp - sc.start / 1000) * 1000 + 1000);
    expect(name, "verify requests past the first token's exp", p.verifies, before);
    isVerified(name + " (past the first exp)", p, tk.second.exp, 2);
    expect(name, "hook calls before the second exp", p.hookCalls, 0);
    await p.advance((tk.second.exp - sc.start / 1000) * 1000 + 200);
    expect(name, "verify requests just before the check", p.verifies, before);
    await p.advance((tk.second.exp - sc.start / 1000) * 1000 + 300);
    expect(name, "verify requests after the second exp", p.verifies, before + 1);
    isError(name + " (expired)", p, "token expired");
    expect(name, "hook calls after the second exp", p.hookCalls, 1);
    p.call(sc.update, tk.third.token);
    await p.settle();
    isVerified(name + " (after the hook)", p, tk.third.exp, 3);
  },

  // A logout drops the token: no check at its exp, no hook.
  async "logout"(name) {
    const tk = sc.tokens;
    const p = new Page(sc.scripts.strict, tk.first.token, true);
    await p.settle();
    isVerified(name, p, tk.first.exp, 1);
    p.call(sc.logout);
    await p.settle();
    isAnonymous(name + " (logged out)", p);
    const before = p.verifies;
    await p.advance((tk.third.exp - sc.start / 1000) * 1000 + 1000);
    expect(name, "verify requests after logout", p.verifies, before);
    expect(name, "hook calls after logout", p.hookCalls, 0);
    isAnonymous(name + " (past exp)", p);
  },

  // A logout wins over a verification still on its way.
  async "logout during a verification"(name) {
    const tk = sc.tokens;
    const p = new Page(sc.scripts.strict, tk.first.token, true);
    await p.settle();
    p.call(sc.update, tk.second.token);
    p.call(sc.logout);
    await p.settle();
    isAnonymous(name, p);
    expect(name, "data-tokens", p.view().tokens, "1");
  },

  // The later of two tokens handed over at once is the one kept.
  async "two fresh tokens at once"(name) {
    const tk = sc.tokens;
    const p = new Page(sc.scripts.strict, tk.first.token, true);
    await p.settle();
    p.call(sc.update, tk.third.token);
    p.call(sc.update, tk.second.token);
    await p.settle();
    isVerified(name, p, tk.second.exp, 2);
  },

  // A page whose token has expired already (a tab restored, a cached page)
  // gets the error and asks for a fresh token.
  async "expired page token"(name) {
    const p = new Page(sc.scripts.strict, sc.tokens.expired.token, true);
    await p.settle();
    isError(name, p, "token expired");
    expect(name, "hook calls", p.hookCalls, 1);
  },

  // Without the hook the widget just shows the error.
  async "expired page token, no hook"(name) {
    const p = new Page(sc.scripts.strict, sc.tokens.expired.token, false);
    await p.settle();
    isError(name, p, "token expired");
  },

  // A fresh token that does not verify is rejected for what it is; the
  // hook is for expired tokens only.
  async "tampered fresh token"(name) {
    const p = new Page(sc.scripts.strict, sc.tokens.first.token, true);
    await p.settle();
    p.call(sc.update, sc.tokens.tampered.token);
    await p.settle();
    isError(name, p, "signature invalid");
    expect(name, "hook calls", p.hookCalls, 0);
  },

  // A vendor with a leeway rejects a token only once it has passed: the
  // widget checks then, not at exp.
  async "leeway"(name) {
    const tk = sc.tokens;
    const p = new Page(sc.scripts.lenient, tk.first.token, true);
    await p.settle();
    isVerified(name, p, tk.first.exp, 1);
    const at = (tk.first.exp - sc.start / 1000) * 1000;
    await p.advance(at + sc.lenientSkew);
    expect(name, "verify requests within the leeway", p.verifies, 1);
    isVerified(name + " (within the leeway)", p, tk.first.exp, 1);
    await p.advance(at + sc.lenientSkew + 300);
    expect(name, "verify requests past the leeway", p.verifies, 2);
    isError(name + " (past the leeway)", p, "token expired");
    expect(name, "hook calls", p.hookCalls, 1);
  },

  // setToken before the page's token: the widget makes its panel then.
  async "no customer data"(name) {
    const p = new Page(sc.scripts.strict, undefined, true);
    await p.settle();
    isAnonymous(name, p);
    p.call(sc.update, sc.tokens.first.token);
    await p.settle();
    isVerified(name + " (token handed over)", p, sc.tokens.first.exp, 1);
  }
};

(async () => {
  for (const [name, run] of Object.entries(cases)) {
    await setClock(sc.start);
    await run(name);
  }
  process.exit(failures === 0 ? 0 : 1);
})().catch((e) => {
  console.log("harness: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
