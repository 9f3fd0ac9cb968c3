// node refresh_clock_harness.js <script file> <case>: runs the refresh
// script, as the middleware inserts it for Update "ChatWidget.setToken", on
// a virtual clock for 40 minutes against a stub token endpoint, with a page
// and an endpoint that misbehave as the case says until 20 minutes have
// passed (fixAt), and well after that. It prints one JSON line: when each
// fetch went out and to which URL, when the vendor took which token, each
// timer the script set, and any unhandled rejection or exception. Used by
// TestRefreshScriptRecovers.
//
// Cases (the vendor, window.ChatWidget, and the endpoint until fixAt):
//   getter-throws  reading window.ChatWidget throws a SecurityError, as a
//                  cross-origin <iframe name=ChatWidget> does
//   frame          window.ChatWidget is such a frame: reading any of its
//                  properties throws a SecurityError
//   not-function   window.ChatWidget.setToken is a string
//   no-expiry      the endpoint answers a token without expiresAt
//   malformed      the endpoint answers null, a string, a numeric token, a
//                  string expiresAt, {}
//   base           nothing wrong; the document's base URL is another host's
const script = require("fs").readFileSync(process.argv[2], "utf8");
const which = process.argv[3];
const minute = 60 * 1000;
const fixAt = 20 * minute; // virtual time, from the start, when all is well
const end = 40 * minute; // virtual time when the run stops
const out = { fetches: [], tokens: [], timers: [], rejections: [], exceptions: [] };
process.on("unhandledRejection", (e) => out.rejections.push(String(e)));

globalThis.window = globalThis;
globalThis.location = { origin: "https://site.example" };
// What a <base href="https://evil.example/"> in the page makes it: the
// script must never resolve against it.
globalThis.document = { baseURI: "https://evil.example/" };

// The virtual clock, and timers that fire only as the run advances it.
const start = Date.now();
let clock = start;
Date.now = () => clock;
const timers = new Map();
let lastID = 0;
globalThis.setTimeout = (f, ms) => {
  const delay = typeof ms === "number" && isFinite(ms) ? ms : -1; // -1: not a number
  out.timers.push({ at: clock - start, ms: delay });
  timers.set(++lastID, { at: clock + Math.max(delay, 0), f });
  return lastID;
};
globalThis.clearTimeout = (id) => timers.delete(id);
const fixed = () => clock - start >= fixAt;

// The vendor, and what stands in its place until fixAt.
const vendor = {
  setToken(t) { out.tokens.push({ at: clock - start, token: t }); },
  logout() { out.exceptions.push("logout called"); },
};
const securityError = () => new DOMException("Blocked a frame with origin \"https://site.example\" from accessing a cross-origin frame.", "SecurityError");
const place = (v) => Object.defineProperty(window, "ChatWidget", { configurable: true, writable: true, value: v });
let ready = false; // whether the vendor is in place for good
switch (which) {
  case "getter-throws":
    Object.defineProperty(window, "ChatWidget", { configurable: true, get() { throw securityError(); } });
    break;
  case "frame":
    place(new Proxy({}, { get() { throw securityError(); } }));
    break;
  case "not-function":
    place({ setToken: "not yet" });
    break;
  default:
    place(vendor);
}

// The token endpoint: a fresh token valid for 10 minutes at each fetch.
let n = 0;
const badAnswers = [null, "not an object", { loggedIn: true, token: 5, expiresAt: 1 }, { loggedIn: true, token: "s", expiresAt: "1800000000" }, {}];
globalThis.fetch = async (url) => {
  out.fetches.push({ at: clock - start, url: String(url) });
  n++;
  const good = { loggedIn: true, token: "t" + n, expiresAt: Math.floor(clock / 1000) + 600 };
  let answer = good;
  if (!fixed() && which === "no-expiry") answer = { loggedIn: true, token: good.token };
  if (!fixed() && which === "malformed") answer = badAnswers[n % badAnswers.length];
  return { ok: true, status: 200, json: async () => answer };
};

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function run() {
  try {
    (0, eval)(script);
  } catch (e) {
    out.exceptions.push(String(e));
  }
  await settle();
  for (let fired = 0; fired < 1000; fired++) {
    let id = 0, next = null;
    for (const [k, t] of timers) if (next === null || t.at < next.at) [id, next] = [k, t];
    if (next === null || next.at - start > end) break;
    timers.delete(id);
    clock = next.at;
    if (fixed() && !ready) {
      place(vendor);
      ready = true;
    }
    try {
      next.f();
    } catch (e) {
      out.exceptions.push(String(e));
    }
    await settle();
    await settle();
  }
  console.log(JSON.stringify(out));
}
run();
