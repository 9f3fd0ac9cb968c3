package site

// TestBrowser drives headless Chromium through the demo, with the stand-in
// vendor (widgetsim) verifying every token as a real vendor would: it is the
// end-to-end proof that the widget greets the visitor the site signed for,
// forgets them at logout, rejects a tampered token and runs under a strict
// CSP. TestBrowserRefresh leaves a tab open past its token's exp, with and
// without chatwidget's refresh script.

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
)

// browserTimeout bounds the whole scenario, the browser's start included.
const browserTimeout = 60 * time.Second

// settleTimeout bounds the wait for one page's panel, so that a widget that
// never settles fails with what the console said while the browser still
// answers.
const settleTimeout = 20 * time.Second

// visitorKey is where the widget remembers the visitor in localStorage.
const visitorKey = "chatwidget:" + testWidgetID + ":visitor"

// bobVisitor is what a page tells the widget about Bob.
var bobVisitor = visitor{
	name: "Bob Sample", sub: "u-2002",
	fields: map[string]string{"User ID": "u-2002", "Telephone": "+1 555 0100"},
}

// aliceTraces are what no page or storage may hold once Bob is logged in.
var aliceTraces = []string{"Alice", "alice@example.com", "u-1001"}

// widgetStandardClaims are the claims the widget does not show as custom
// fields (see widgetsim's widget.js).
var widgetStandardClaims = []string{"name", "isLoggedIn", "email", "iat", "exp", "nbf", "iss", "aud", "sub", "jti"}

// findBrowser returns the Chromium or Chrome to drive: $CHROME_PATH, else the
// first of the usual names on $PATH, else /usr/bin/chromium (Debian's
// package); "" when there is none.
func findBrowser() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// watchJS runs in every document before the page's scripts and records the
// CSP violations the document reports.
const watchJS = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "?") +
    " at " + e.sourceFile + ":" + e.lineNumber);
});`

// tamperJS runs in every document before the page's scripts, while the test
// adds it: it wraps the page's window.chatWidgetCustomerData, when the page
// defines it, so that the widget gets the token with "Mallory" as the name
// in its payload and the signature unchanged.
const tamperJS = `(function () {
  var wrapped;
  function tamper(token) {
    var parts = token.split(".");
    var b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4 !== 0) { b64 += "="; }
    var claims = JSON.parse(atob(b64));
    claims.name = "Mallory";
    parts[1] = btoa(JSON.stringify(claims)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    window.__tampered = true;
    return parts.join(".");
  }
  Object.defineProperty(window, "chatWidgetCustomerData", {
    configurable: true,
    get: function () { return wrapped; },
    set: function (fn) {
      wrapped = function (done) {
        fn(function (token) { done(tamper(String(token))); });
      };
    }
  });
})();`

// viewJS returns what the test reads of a page: the panels, the shown
// identity, the stored visitor and the CSP violations.
const viewJS = `(function () {
  var panels = document.querySelectorAll("#cw-panel");
  var p = panels[0];
  function text(sel) { var e = p.querySelector(sel); return e ? e.textContent : ""; }
  var email = p.querySelector("#cw-email");
  var fields = [];
  p.querySelectorAll("#cw-fields > dt").forEach(function (dt) {
    var dd = dt.nextElementSibling;
    fields.push([dt.textContent, dd && dd.tagName === "DD" ? dd.textContent : "<no dd>"]);
  });
  var storage = {};
  for (var i = 0; i < localStorage.length; i++) {
    var k = localStorage.key(i);
    storage[k] = localStorage.getItem(k);
  }
  return {
    panels: panels.length,
    state: p.getAttribute("data-state"),
    name: text("#cw-name"),
    email: email ? email.value : "",
    fields: fields,
    error: text("#cw-error"),
    panelText: p.textContent + (email ? " " + email.value : ""),
    bodyText: document.body.textContent,
    storage: storage,
    violations: window.__cspViolations || ["the watch script did not run"],
    tampered: window.__tampered === true
  };
})()`

// pageView is what viewJS returns.
type pageView struct {
	Panels     int               `json:"panels"`
	State      string            `json:"state"`
	Name       string            `json:"name"`
	Email      string            `json:"email"`
	Fields     [][2]string       `json:"fields"`
	Error      string            `json:"error"`
	PanelText  string            `json:"panelText"`
	BodyText   string            `json:"bodyText"`
	Storage    map[string]string `json:"storage"`
	Violations []string          `json:"violations"`
	Tampered   bool              `json:"tampered"`
}

// consoleLog records what the pages write to the console, the exceptions
// they throw and the browser's log entries. Its record method runs on
// chromedp's goroutine.
type consoleLog struct {
	mu         sync.Mutex
	lines      []string
	exceptions []string
	csp        []string
	cspSeen    chan struct{} // closed at the first CSP message
	once       sync.Once
}

// newConsoleLog returns an empty log.
func newConsoleLog() *consoleLog {
	return &consoleLog{cspSeen: make(chan struct{})}
}

// record is the chromedp listener.
func (c *consoleLog) record(ev any) {
	var line string
	exception := false
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line = fmt.Sprintf("exception: %s %s at %s:%d", d.Text, exceptionText(d), d.URL, d.LineNumber+1)
		exception = true
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		line = fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line)
	if exception {
		c.exceptions = append(c.exceptions, line)
	}
	if strings.Contains(line, "Content Security Policy") {
		c.csp = append(c.csp, line)
		c.once.Do(func() { close(c.cspSeen) })
	}
}

// exceptionText returns the description of the thrown value, if any.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception == nil {
		return ""
	}
	return d.Exception.Description
}

// snapshot returns every line, the exceptions and the CSP messages so far.
func (c *consoleLog) snapshot() (lines, exceptions, csp []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines), slices.Clone(c.exceptions), slices.Clone(c.csp)
}

// A browserRun is the state of TestBrowser's scenario: one browser, one
// profile, one demo site.
type browserRun struct {
	ctx     context.Context // the tab's
	base    string          // the demo's URL
	pub     *rsa.PublicKey  // verifies the site's tokens
	shots   string          // where screenshots go
	console *consoleLog
}

// TestBrowser logs in and out of the demo in headless Chromium, in one
// browser profile from start to end, and checks what the widget shows
// against the token in the page.
func TestBrowser(t *testing.T) {
	exe := requireBrowser(t, "TestBrowser, the end-to-end test of the widget,")
	start := time.Now()

	var logs syncBuffer
	s := newTestSite(t, testKey(), &logs)
	b := newBrowser(t, exe, s)
	console := b.console

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"alice logs in", b.aliceLogsIn},
		{"alice on another page", b.aliceOnAbout},
		{"alice logs out", b.aliceLogsOut},
		{"bob logs in", b.bobLogsIn},
		{"tampered token", b.tamperedToken},
		{"strict CSP", b.strictCSP},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return // the next steps start from this one's state
		}
	}

	_, exceptions, csp := console.snapshot()
	for _, e := range exceptions {
		t.Errorf("the page threw: %s", e)
	}
	if len(csp) != 1 { // the control of strictCSP
		t.Errorf("console has %d CSP messages, want only the control's: %q", len(csp), csp)
	}
	if got := problems(logs.String()); len(got) != 0 {
		t.Errorf("the demo logged %q, want nothing", got)
	}
	t.Logf("the scenario took %v, the browser's start included", time.Since(start).Round(time.Millisecond))
}

// requireBrowser returns the browser to drive, or skips the test, loudly,
// when there is none; when CI is set, it fails it instead. what names the
// test in the message.
func requireBrowser(t *testing.T, what string) string {
	t.Helper()
	exe := findBrowser()
	if exe == "" {
		msg := "NO BROWSER: " + what + " did not run. " +
			"Install Chromium (Debian: apt-get install chromium) or set CHROME_PATH."
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " CI is set, so this fails.")
		}
		t.Skip("\n\n\t*** " + msg + " ***\n\n")
	}
	return exe
}

// newBrowser serves s on a test server and starts exe, headless, with a
// fresh profile, bounded by browserTimeout, to browse it. The browser closes
// and the server stops when the test ends; if the test failed, the console
// and chromedp's errors are logged.
func newBrowser(t *testing.T, exe string, s *testSite) *browserRun {
	t.Helper()
	base := s.url()
	profile := t.TempDir() // removed after the browser closes: cleanups run last first
	shots := screenshotDir(t)

	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile), // a fresh profile
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	console := newConsoleLog()
	var browserErrs syncBuffer
	tabCtx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithListener(console.record),
		chromedp.WithErrorf(func(format string, args ...any) { fmt.Fprintf(&browserErrs, format+"\n", args...) }))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
		if t.Failed() {
			lines, _, _ := console.snapshot()
			t.Logf("console:\n\t%s", strings.Join(lines, "\n\t"))
			if e := browserErrs.String(); e != "" {
				t.Logf("chromedp errors:\n%s", e)
			}
		}
	})

	b := &browserRun{ctx: tabCtx, base: base, pub: parsePublicKey(t, s.PublicKey), shots: shots, console: console}
	b.start(t, exe)
	return b
}

// screenshotDir returns $SCREENSHOT_DIR, made if need be, or a temporary
// directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("SCREENSHOT_DIR: %v", err)
	}
	return dir
}

// start launches the browser and adds watchJS to every document.
func (b *browserRun) start(t *testing.T, exe string) {
	t.Helper()
	if err := chromedp.Do(b.ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// chromedp enables the Log domain itself; enabling it again says that
	// the test relies on its entries.
	if _, err := chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: watchJS}); err != nil {
		t.Fatalf("add the CSP watch script: %v", err)
	}
}

// load runs the actions, which load a page, and waits for it.
func (b *browserRun) load(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	res, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Status != 200 {
		t.Fatalf("%s: status %d %s, want 200", what, res.Status, res.StatusText)
	}
	return res
}

// open loads the demo's page at path.
func (b *browserRun) open(t *testing.T, path string) *network.Response {
	t.Helper()
	return b.load(t, "GET "+path, chromedp.Navigate(b.base+path))
}

// view waits until the widget's panel has settled (a data-state other than
// loading) and returns what the page shows. It checks that the page has one
// panel and reported no CSP violation.
func (b *browserRun) view(t *testing.T) pageView {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, settleTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#cw-panel:not([data-state="loading"])`))); err != nil {
		_, exceptions, csp := b.console.snapshot()
		t.Fatalf("the widget's panel did not settle: %v (exceptions %q, CSP messages %q)", err, exceptions, csp)
	}
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageView](viewJS))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	if v.Panels != 1 {
		t.Errorf("page has %d #cw-panel, want 1 (a second widget?)", v.Panels)
	}
	if len(v.Violations) != 0 {
		t.Errorf("CSP violations: %q", v.Violations)
	}
	return v
}

// token returns the token in the page's customer-data script.
func (b *browserRun) token(t *testing.T) string {
	t.Helper()
	html, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("read the page's HTML: %v", err)
	}
	return pageToken(t, []byte(html))
}

// screenshot saves the viewport as name.
func (b *browserRun) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(b.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// isVerified checks that the page's panel shows the identity of the token
// in the page, which must verify with the site's key and be want's.
func (b *browserRun) isVerified(t *testing.T, want visitor) pageView {
	t.Helper()
	v := b.view(t)
	if v.State != "verified" {
		t.Fatalf("panel state = %q (error %q), want verified", v.State, v.Error)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(b.token(t), claims, func(*jwt.Token) (any, error) { return b.pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt()); err != nil {
		t.Fatalf("the page's token does not verify: %v", err)
	}
	checkClaims(t, claims, want)

	if got, want := v.Name, fmt.Sprintf("Chatting as %v", claims["name"]); got != want {
		t.Errorf("#cw-name = %q, want %q", got, want)
	}
	email, _ := claims["email"].(string)
	if v.Email != email {
		t.Errorf("#cw-email = %q, want %q", v.Email, email)
	}
	var fields [][2]string
	for _, k := range slices.Sorted(maps.Keys(claims)) {
		if !slices.Contains(widgetStandardClaims, k) {
			fields = append(fields, [2]string{k, fmt.Sprint(claims[k])})
		}
	}
	if !slices.Equal(v.Fields, fields) {
		t.Errorf("#cw-fields = %q, want %q", v.Fields, fields)
	}
	var stored map[string]any
	if err := json.Unmarshal([]byte(v.Storage[visitorKey]), &stored); err != nil || stored["name"] != want.name {
		t.Errorf("localStorage[%q] = %q, want %s's claims", visitorKey, v.Storage[visitorKey], want.name)
	}
	return v
}

// isAnonymousPanel checks that the panel shows the anonymous form and that
// the widget remembers nobody.
func (b *browserRun) isAnonymousPanel(t *testing.T) pageView {
	t.Helper()
	v := b.view(t)
	if v.State != "anonymous" {
		t.Fatalf("panel state = %q (showing %q), want anonymous", v.State, v.Name)
	}
	if _, ok := v.Storage[visitorKey]; ok {
		t.Errorf("localStorage still holds %q = %q", visitorKey, v.Storage[visitorKey])
	}
	return v
}

func (b *browserRun) aliceLogsIn(t *testing.T) {
	b.open(t, "/")
	b.isAnonymousPanel(t)
	b.load(t, "log in as alice",
		chromedp.SetValue(chromedp.CSS("#user"), "alice"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	b.isVerified(t, aliceVisitor)
	b.screenshot(t, "demo-alice.png")
}

func (b *browserRun) aliceOnAbout(t *testing.T) {
	b.open(t, "/about")
	b.isVerified(t, aliceVisitor)
}

func (b *browserRun) aliceLogsOut(t *testing.T) {
	b.load(t, "log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)))
	// Not "remembered": the middleware told the widget nobody is logged in.
	v := b.isAnonymousPanel(t)
	for _, s := range aliceTraces {
		if strings.Contains(v.PanelText, s) {
			t.Errorf("panel after logout shows %q: %q", s, v.PanelText)
		}
	}
	b.screenshot(t, "demo-anonymous.png")
}

func (b *browserRun) bobLogsIn(t *testing.T) {
	b.load(t, "log in as bob",
		chromedp.SetValue(chromedp.CSS("#user"), "bob"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	v := b.isVerified(t, bobVisitor)
	storage := fmt.Sprint(v.Storage)
	for _, s := range aliceTraces {
		if strings.Contains(v.PanelText, s) {
			t.Errorf("Bob's panel shows %q: %q", s, v.PanelText)
		}
		if strings.Contains(storage, s) {
			t.Errorf("Bob's localStorage holds %q: %q", s, storage)
		}
		if strings.Contains(v.BodyText, s) {
			t.Errorf("Bob's page shows %q", s)
		}
	}
}

func (b *browserRun) tamperedToken(t *testing.T) {
	added, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: tamperJS})
	if err != nil {
		t.Fatalf("add the tamper script: %v", err)
	}
	b.open(t, "/")
	v := b.view(t)
	if !v.Tampered {
		t.Fatalf("the tamper script did not change the token (panel state %q)", v.State)
	}
	if v.State != "error" || !strings.Contains(v.Error, "signature invalid") {
		t.Errorf("panel = %q, #cw-error %q; want error, signature invalid", v.State, v.Error)
	}
	for _, s := range []string{"Mallory", "Bob", "Chatting as"} {
		if strings.Contains(v.PanelText, s) {
			t.Errorf("panel of a rejected token shows %q: %q", s, v.PanelText)
		}
	}
	if _, ok := v.Storage[visitorKey]; ok {
		t.Errorf("localStorage still holds %q after a rejected token", visitorKey)
	}
	b.screenshot(t, "demo-error.png")
	if _, err := chromedp.Call(b.ctx, page.RemoveScriptToEvaluateOnNewDocument,
		page.RemoveScriptToEvaluateOnNewDocumentParams(added)); err != nil {
		t.Fatalf("remove the tamper script: %v", err)
	}
}

func (b *browserRun) strictCSP(t *testing.T) {
	res := b.open(t, "/csp")
	if policy := header(res.Headers, cspHeader); !policyPattern.MatchString(policy) {
		t.Errorf("%s = %q, want %q", cspHeader, policy, cspPolicy("<nonce>"))
	}
	// Verified: the embed script ran, and it read the customer data.
	b.isVerified(t, bobVisitor)
	own, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("csp-own-script")))
	if err != nil || !strings.Contains(own, "ran") {
		t.Errorf("#csp-own-script = %q, %v; want the page's own script to have run", own, err)
	}
	if _, _, csp := b.console.snapshot(); len(csp) != 0 {
		t.Errorf("the console reports CSP violations: %q", csp)
	}
	b.screenshot(t, "demo-csp.png")

	// The control: a script without the nonce is blocked, and both the
	// page's listener and the console report it.
	const inject = `(function () {
  var s = document.createElement("script");
  s.textContent = "window.__unnonced = true;";
  document.body.appendChild(s);
  return window.__unnonced === true;
})()`
	ran, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](inject))
	if err != nil || ran {
		t.Fatalf("a script without the nonce: ran %v, %v; want it blocked", ran, err)
	}
	n, err := chromedp.Run(b.ctx, chromedp.Poll[int](`window.__cspViolations.length`, chromedp.WithPollingTimeout(settleTimeout)))
	if err != nil || n != 1 {
		t.Errorf("the page's listener saw %d violations, %v; want the control's 1", n, err)
	}
	select {
	case <-b.console.cspSeen:
	case <-b.ctx.Done():
		t.Errorf("the console never reported the control's violation: %v", b.ctx.Err())
	}
}

// header returns the value of the header name in h, whatever its case.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// TestBrowserRefresh leaves a logged-in tab open past its token's exp, in
// headless Chromium, with a short TTL and a stand-in vendor without leeway:
// with the refresh script the widget keeps the identity past the first
// token's exp, and loses it within one TTL of a logout made without
// reloading the tab; without the script (the control) the widget shows the
// token expired, so that what keeps the identity is the refresh and not a
// lenient vendor.
func TestBrowserRefresh(t *testing.T) {
	exe := requireBrowser(t, "TestBrowserRefresh, the end-to-end test of long-lived tabs,")
	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		// chatwidget renews a token once half its TTL has passed (3s) and
		// the script fetches the next one Before its exp (default 1.5s).
		const ttl = 6 * time.Second
		var logs syncBuffer
		b := newBrowser(t, exe, newRefreshSite(t, ttl, true, &logs, widgetsim.WithSkew(0)))
		exp := b.aliceLoggedIn(t)
		if !t.Run("identity survives exp", func(t *testing.T) { b.survivesExp(t, exp, ttl) }) {
			return
		}
		t.Run("logout in the background", func(t *testing.T) { b.backgroundLogout(t, ttl) })
		b.noProblems(t, &logs)
	})
	t.Run("no refresh", func(t *testing.T) {
		t.Parallel()
		const ttl = 3 * time.Second
		var logs syncBuffer
		b := newBrowser(t, exe, newRefreshSite(t, ttl, false, &logs, widgetsim.WithSkew(0)))
		exp := b.aliceLoggedIn(t)
		b.expires(t, exp, ttl)
		b.noProblems(t, &logs)
	})
}

// pollInterval is how often the refresh scenarios look at the page.
const pollInterval = 50 * time.Millisecond

// aliceLoggedIn logs in as Alice with the form, checks that the widget
// verified her, and returns the exp of the page's token.
func (b *browserRun) aliceLoggedIn(t *testing.T) time.Time {
	t.Helper()
	b.open(t, "/")
	b.isAnonymousPanel(t)
	b.load(t, "log in as alice",
		chromedp.SetValue(chromedp.CSS("#user"), "alice"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
	b.isVerified(t, aliceVisitor) // the token verifies with the site's key
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(b.token(t), claims); err != nil {
		t.Fatal(err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		t.Fatalf("the page's token has no exp: %v", err)
	}
	return exp.Time
}

// panelState is what the refresh scenarios poll for: the panel's state and
// token count, the error, and the page's clock.
type panelState struct {
	State  string `json:"state"`
	Tokens int    `json:"tokens"`
	Error  string `json:"error"`
	At     int64  `json:"at"` // Unix milliseconds
}

// panelStateJS is a JavaScript expression of the panelState of the page.
const panelStateJS = `(function () {
  var p = document.getElementById("cw-panel"), e = document.getElementById("cw-error");
  return {state: p.getAttribute("data-state"), tokens: Number(p.getAttribute("data-tokens")),
    error: e ? e.textContent : "", at: Date.now()};
})()`

// poll waits, for at most timeout, until the JavaScript predicate cond holds
// (p is the panel), and returns the panel's state then.
func (b *browserRun) poll(t *testing.T, what, cond string, timeout time.Duration) panelState {
	t.Helper()
	pred := `(function () { var p = document.getElementById("cw-panel"); return p !== null && (` + cond + `) ? ` + panelStateJS + ` : null; })()`
	st, err := chromedp.Run(b.ctx, chromedp.Poll[panelState](pred, chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		now, _ := chromedp.Run(b.ctx, chromedp.Evaluate[panelState](panelStateJS))
		t.Fatalf("waiting %v for %s: %v (the panel: %+v)", timeout, what, err, now)
	}
	return st
}

// survivesExp waits until the widget has verified a second token and the
// first one's exp (plus the widget's expiry check) has passed, and checks
// that it still shows and remembers Alice, from a token that is still good.
func (b *browserRun) survivesExp(t *testing.T, exp time.Time, ttl time.Duration) {
	past := exp.Add(time.Second).UnixMilli() // the widget checks at exp + 250ms
	st := b.poll(t, "a second token and the first one's exp",
		fmt.Sprintf(`p.getAttribute("data-state") !== "verified" || (Number(p.getAttribute("data-tokens")) >= 2 && Date.now() > %d)`, past),
		2*ttl)
	if st.State != "verified" || st.Tokens < 2 || st.At <= past {
		t.Fatalf("panel = %+v past the first token's exp (%v), want verified with 2 tokens or more", st, exp)
	}
	v := b.view(t)
	if v.Name != "Chatting as "+aliceVisitor.name {
		t.Errorf("#cw-name = %q, want Alice's", v.Name)
	}
	var stored jwt.MapClaims
	if err := json.Unmarshal([]byte(v.Storage[visitorKey]), &stored); err != nil {
		t.Fatalf("localStorage[%q] = %q: %v", visitorKey, v.Storage[visitorKey], err)
	}
	checkClaims(t, stored, aliceVisitor)
	if e, _ := stored.GetExpirationTime(); e == nil || !e.After(exp) || e.UnixMilli() <= st.At {
		t.Errorf("the stored visitor's exp = %v, want one after the first token's %v and after now", e, exp)
	}
	b.screenshot(t, "demo-refreshed.png")
}

// logoutJS logs out with fetch, which leaves the tab where it is, after
// setting up a record of the moment the panel leaves "verified"; it returns
// the status of the logout.
const logoutJS = `(function () {
  var p = document.getElementById("cw-panel");
  window.__sameDocument = true;
  window.__left = null;
  new MutationObserver(function () {
    if (window.__left === null && p.getAttribute("data-state") !== "verified") {
      window.__left = Date.now();
    }
  }).observe(p, {attributes: true, attributeFilter: ["data-state"]});
  window.__logoutAt = Date.now();
  return fetch("/logout", {method: "POST", credentials: "same-origin"}).then(function (r) { return r.status; });
})()`

// backgroundLogout logs out without reloading the tab and checks that the
// widget drops Alice within one TTL (and a margin): the refresh script
// calls the widget's logout, or the widget finds the token expired.
func (b *browserRun) backgroundLogout(t *testing.T, ttl time.Duration) {
	status, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](logoutJS, chromedp.EvalAwaitPromise))
	if err != nil || status != 200 {
		t.Fatalf("POST /logout with fetch: status %d, %v; want 200", status, err)
	}
	const margin = 2 * time.Second
	st := b.poll(t, "the panel to leave verified", `window.__left !== null`, ttl+margin+5*time.Second)
	times, err := chromedp.Run(b.ctx, chromedp.Evaluate[[3]int64](`[window.__logoutAt, window.__left, window.__sameDocument === true ? 1 : 0]`))
	if err != nil {
		t.Fatal(err)
	}
	if times[2] != 1 {
		t.Fatalf("the tab navigated: the logout must leave it alone")
	}
	took := time.Duration(times[1]-times[0]) * time.Millisecond
	t.Logf("the panel left verified %v after the logout, for %q", took, st.State)
	if took > ttl+margin {
		t.Errorf("the panel left verified %v after the logout, want at most the TTL %v + %v", took, ttl, margin)
	}
	switch {
	case st.State == "anonymous":
	case st.State == "error" && st.Error == "Identity rejected: token expired":
	default:
		t.Errorf("panel after logout = %+v, want anonymous, or error with the token expired", st)
	}
	v := b.view(t)
	if _, ok := v.Storage[visitorKey]; ok {
		t.Errorf("localStorage still holds %q = %q", visitorKey, v.Storage[visitorKey])
	}
	for _, s := range aliceTraces {
		if strings.Contains(v.PanelText, s) {
			t.Errorf("panel after logout shows %q: %q", s, v.PanelText)
		}
	}
}

// expires checks, without the refresh script, that the widget shows the
// token expired once its exp has passed, and forgets Alice.
func (b *browserRun) expires(t *testing.T, exp time.Time, ttl time.Duration) {
	t.Helper()
	hook, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`typeof window.`+widgetsim.ExpiredHook))
	if err != nil || hook != "undefined" {
		t.Fatalf("window.%s is %q, %v; want no refresh script in the page", widgetsim.ExpiredHook, hook, err)
	}
	st := b.poll(t, "the panel to leave verified", `p.getAttribute("data-state") !== "verified"`, 2*ttl)
	if st.State != "error" || st.Error != "Identity rejected: token expired" {
		t.Errorf("panel = %+v, want error with the token expired", st)
	}
	if st.At < exp.UnixMilli() {
		t.Errorf("the panel left verified at %v, before the token's exp %v", time.UnixMilli(st.At), exp)
	}
	v := b.view(t)
	if _, ok := v.Storage[visitorKey]; ok {
		t.Errorf("localStorage still holds %q = %q", visitorKey, v.Storage[visitorKey])
	}
	b.screenshot(t, "demo-expired.png")
}

// noProblems checks that no page threw or broke the CSP and that the demo
// logged no warning.
func (b *browserRun) noProblems(t *testing.T, logs *syncBuffer) {
	t.Helper()
	_, exceptions, csp := b.console.snapshot()
	for _, e := range exceptions {
		t.Errorf("the page threw: %s", e)
	}
	if len(csp) != 0 {
		t.Errorf("the console reports CSP violations: %q", csp)
	}
	if got := problems(logs.String()); len(got) != 0 {
		t.Errorf("the demo logged %q, want nothing", got)
	}
}
