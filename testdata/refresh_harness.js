// node refresh_harness.js <script file> <case>: runs the refresh script, as
// the middleware inserts it, against a stub token endpoint and a vendor
// object, and prints one JSON line of what happened. Used by
// TestRefreshScriptInNode.
const script = require("fs").readFileSync(process.argv[2], "utf8");
const which = process.argv[3];
globalThis.window = globalThis;
globalThis.location = { origin: "https://site.example" }; // the script resolves its endpoint against it
const out = { fetches: 0, tokens: [], logout: false, armedAfter: 0, rejections: [] };
process.on("unhandledRejection", (e) => out.rejections.push(String(e)));
const realSetTimeout = setTimeout;
let armed = 0;
globalThis.setTimeout = () => { armed++; return 0; }; // recorded, never fired
globalThis.clearTimeout = () => {};
const exp = Math.floor(Date.now() / 1000) + 600;
globalThis.fetch = async () => {
  out.fetches++;
  if (which === "503") return { ok: false, status: 503, json: async () => ({ error: "try again later" }) };
  if (which === "logout") return { ok: true, status: 200, json: async () => ({ loggedIn: false }) };
  return { ok: true, status: 200, json: async () => ({ loggedIn: true, token: which === "late" ? "fresh" : "t" + out.fetches, expiresAt: exp }) };
};
class Vendor {
  constructor() { this.token = null; }
  setToken(t) { if (which === "throw") throw new Error("widget not ready"); this.token = t; out.tokens.push(t); }
  logout() { out.logout = true; }
}
if (which !== "late") globalThis.Vendor = new Vendor();
(0, eval)(script);
const before = armed;
window.expired(); // as the widget does on an expired token
realSetTimeout(() => {
  if (which === "late") { // the widget loads after the first refresh, then asks
    globalThis.Vendor = new Vendor();
    window.expired();
  }
  realSetTimeout(() => {
    out.armedAfter = armed - before;
    console.log(JSON.stringify(out));
  }, 50);
}, 50);
