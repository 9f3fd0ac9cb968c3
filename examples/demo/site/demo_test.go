package site

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
)

// testWidgetID is the widget ID the tests build the app with, to show that
// it reaches the embed code.
const testWidgetID = "test-widget"

// testEmbedSrc is the path of the embed script in the test app's pages,
// whose src is its absolute URL on the site's origin: the Sim's widget
// script for testWidgetID.
const testEmbedSrc = simPrefix + "embed/" + testWidgetID + ".js"

// testOrigin is the origin of apps that are built and never served.
const testOrigin = "http://127.0.0.1:8080"

// anonymousScript is the text of the script that tells the widget nobody is
// logged in.
const anonymousScript = "window.chatWidgetAnonymous=true;"

// testKey returns the fixed test key, read from testdata by chatwidget.New.
func testKey() chatwidget.Key {
	return chatwidget.KeyFile(filepath.Join("testdata", "private.pem"))
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A testSite is a demo site and the test server that serves it, whose
// origin the site's embed URL names, started on first use.
type testSite struct {
	site
	srv   *httptest.Server
	start sync.Once
}

// newTestApp returns the app built from cfg for a new test server, not
// started yet, whose origin becomes cfg.Origin. The server closes when the
// test ends.
func newTestApp(t *testing.T, cfg appConfig) *testSite {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	cfg.Origin = "http://" + srv.Listener.Addr().String()
	s, err := newApp(cfg)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	srv.Config.Handler = s.Handler
	return &testSite{site: s, srv: srv}
}

// url starts the server, once, and returns its URL.
func (s *testSite) url() string {
	s.start.Do(s.srv.Start)
	return s.srv.URL
}

// newTestSite returns the app signing with key and logging to logs.
func newTestSite(t *testing.T, key chatwidget.Key, logs io.Writer) *testSite {
	t.Helper()
	return newTestApp(t, appConfig{
		WidgetID: testWidgetID,
		Key:      key,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
	})
}

// parsePublicKey returns the RSA public key of b, which must be one PEM
// "PUBLIC KEY" block (PKIX) and nothing else.
func parsePublicKey(t *testing.T, b []byte) *rsa.PublicKey {
	t.Helper()
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("public key = %q, want one PUBLIC KEY block", b)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is a %T, want an *rsa.PublicKey", pub)
	}
	return rk
}

// newTestClient starts the server of s, if need be, and returns its URL and
// a client with a cookie jar of its own.
func newTestClient(t *testing.T, s *testSite) (string, *http.Client) {
	t.Helper()
	base := s.url()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *s.srv.Client()
	c.Jar = jar
	return base, &c
}

// A step is one request of a scenario (redirects followed) and the checks
// its final response must pass.
type step struct {
	method string
	path   string
	form   url.Values  // the POST body
	header http.Header // extra request headers
	checks []check
}

// A check tests a response and its body.
type check func(t *testing.T, res *http.Response, body []byte)

// do sends the step's request with c to the server at base.
func (s step) do(t *testing.T, c *http.Client, base string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if s.form != nil {
		body = strings.NewReader(s.form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), s.method, base+s.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if s.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", s.method, s.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", s.method, s.path, err)
	}
	return res, b
}

// get returns a GET step.
func get(path string, checks ...check) step {
	return step{method: http.MethodGet, path: path, checks: checks}
}

// loginAs returns a step that logs in as the demo user login.
func loginAs(login string, checks ...check) step {
	return step{method: http.MethodPost, path: "/login", form: url.Values{"user": {login}}, checks: checks}
}

// logout returns a step that logs out.
func logout(checks ...check) step {
	return step{method: http.MethodPost, path: "/logout", form: url.Values{}, checks: checks}
}

// A script is a <script> element of a page.
type script struct {
	attrs map[string]string
	text  string
}

// scripts returns the <script> elements of page, as x/net/html's tokenizer
// sees them.
func scripts(page []byte) []script {
	var out []script
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken:
			name, more := z.TagName()
			if string(name) != "script" {
				continue
			}
			s := script{attrs: make(map[string]string)}
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				s.attrs[string(k)] = string(v)
			}
			if z.Next() == html.TextToken {
				s.text = string(z.Text())
			}
			out = append(out, s)
		}
	}
}

// customerDataPattern is the default customer-data template, token captured.
var customerDataPattern = regexp.MustCompile(`^window\.chatWidgetCustomerData=function\(done\)\{done\("([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"\)\};$`)

// widgetScripts returns the embed scripts and the customer-data scripts of
// page.
func widgetScripts(page []byte) (embeds, customerData []script) {
	for _, s := range scripts(page) {
		if u, err := url.Parse(s.attrs["src"]); err == nil && u.IsAbs() && u.Path == testEmbedSrc {
			embeds = append(embeds, s)
		}
		if strings.Contains(s.text, "chatWidgetCustomerData") {
			customerData = append(customerData, s)
		}
	}
	return embeds, customerData
}

// anonymousScripts returns how many scripts of page tell the widget that
// nobody is logged in.
func anonymousScripts(page []byte) int {
	n := 0
	for _, s := range scripts(page) {
		if s.text == anonymousScript {
			n++
		}
	}
	return n
}

// pageToken returns the token of the one customer-data script of page.
func pageToken(t *testing.T, page []byte) string {
	t.Helper()
	_, cd := widgetScripts(page)
	if len(cd) != 1 {
		t.Fatalf("page has %d customer-data scripts, want 1:\n%s", len(cd), page)
	}
	m := customerDataPattern.FindStringSubmatch(cd[0].text)
	if m == nil {
		t.Fatalf("customer-data script = %q, want the Sim's template with a token", cd[0].text)
	}
	return m[1]
}

// policyPattern is the demo's Content-Security-Policy, nonce captured.
var policyPattern = regexp.MustCompile(`^script-src 'nonce-([A-Za-z0-9+/]{22}==)'; object-src 'none'; base-uri 'none'$`)

// hasCSP checks that the response carries the demo's strict policy and that
// every script of body carries its nonce, and returns the nonce.
func hasCSP(t *testing.T, res *http.Response, body []byte) string {
	t.Helper()
	policy := res.Header.Values(cspHeader)
	if len(policy) != 1 {
		t.Fatalf("%s = %q, want one policy", cspHeader, policy)
	}
	m := policyPattern.FindStringSubmatch(policy[0])
	if m == nil {
		t.Fatalf("%s = %q, want %q", cspHeader, policy[0], cspPolicy("<nonce>"))
	}
	for _, s := range scripts(body) {
		if s.attrs["nonce"] != m[1] {
			t.Errorf("script %v %q has nonce %q, want the policy's %q", s.attrs, s.text, s.attrs["nonce"], m[1])
		}
	}
	return m[1]
}

// isPage checks that the response is a 200 HTML page carrying the embed
// script exactly once, as the demo's template makes it, under the demo's
// CSP.
func isPage(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, want 200; body:\n%s", res.Request.URL.Path, res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
		t.Errorf("page does not start with <!DOCTYPE html>:\n%s", body)
	}
	embeds, _ := widgetScripts(body)
	if len(embeds) != 1 {
		t.Fatalf("page has %d embed scripts, want 1:\n%s", len(embeds), body)
	}
	for _, attr := range []string{"defer", "data-chatwidget"} {
		if _, ok := embeds[0].attrs[attr]; !ok {
			t.Errorf("embed script has no %s attribute: %v", attr, embeds[0].attrs)
		}
	}
	// Absolute, on the site's origin: no <base href> changes where it loads from.
	if want := "http://" + res.Request.URL.Host + testEmbedSrc; embeds[0].attrs["src"] != want {
		t.Errorf("embed script src = %q, want %q", embeds[0].attrs["src"], want)
	}
	hasCSP(t, res, body)
}

// isAnonymous checks that the response is a page for an anonymous visitor:
// the widget without customer data or token, told that nobody is logged in,
// and the login form.
func isAnonymous(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	isPage(t, res, body)
	if _, cd := widgetScripts(body); len(cd) != 0 {
		t.Errorf("anonymous page has %d customer-data scripts, want 0", len(cd))
	}
	if n := anonymousScripts(body); n != 1 {
		t.Errorf("anonymous page has %d %q scripts, want 1", n, anonymousScript)
	}
	for _, s := range []string{"chatWidgetCustomerData", "eyJhbGci", "Log out"} {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("anonymous page contains %q", s)
		}
	}
	if res.Request.URL.Path == "/" && !bytes.Contains(body, []byte(`action="/login"`)) {
		t.Errorf("anonymous home page has no login form")
	}
}

// A visitor is what a page must tell the widget about a logged-in user.
type visitor struct {
	name, email, sub string
	fields           map[string]string // custom claims
}

// standardClaims are the claims that are not custom fields.
var standardClaims = []string{"name", "isLoggedIn", "email", "iat", "exp", "iss", "aud", "sub"}

// isVisitor returns a check that the response is a page for want: exactly
// one customer-data script whose token verifies with pub and carries want's
// claims, and headers that keep it out of shared caches.
func isVisitor(pub *rsa.PublicKey, want visitor) check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		isPage(t, res, body)
		if n := anonymousScripts(body); n != 0 {
			t.Errorf("page of a visitor has %d %q scripts, want 0", n, anonymousScript)
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(pageToken(t, body), claims, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		if err != nil {
			t.Fatalf("token does not verify: %v", err)
		}
		checkClaims(t, claims, want)
		if cc := strings.Join(res.Header.Values("Cache-Control"), ", "); !strings.Contains(cc, "private") {
			t.Errorf("Cache-Control = %q, want private", cc)
		}
		if v := res.Header.Values("Vary"); !slices.ContainsFunc(v, func(line string) bool {
			return slices.Contains(strings.Split(strings.ReplaceAll(line, " ", ""), ","), "Cookie")
		}) {
			t.Errorf("Vary = %q, want Cookie", v)
		}
		if !bytes.Contains(body, []byte(want.name)) {
			t.Errorf("page does not name %q", want.name)
		}
	}
}

// checkClaims compares the claims of a token with want.
func checkClaims(t *testing.T, claims jwt.MapClaims, want visitor) {
	t.Helper()
	if claims["name"] != want.name {
		t.Errorf("claim name = %v, want %q", claims["name"], want.name)
	}
	if claims["isLoggedIn"] != true {
		t.Errorf("claim isLoggedIn = %v, want true", claims["isLoggedIn"])
	}
	if email, ok := claims["email"]; want.email == "" && ok {
		t.Errorf("claim email = %v, want none", email)
	} else if want.email != "" && email != want.email {
		t.Errorf("claim email = %v, want %q", email, want.email)
	}
	if claims["sub"] != want.sub {
		t.Errorf("claim sub = %v, want %q", claims["sub"], want.sub)
	}
	fields := make(map[string]string)
	for k, v := range claims {
		if slices.Contains(standardClaims, k) {
			continue
		}
		s, ok := v.(string)
		if !ok {
			t.Errorf("claim %q = %v (%T), want a string", k, v, v)
		}
		fields[k] = s
	}
	if !maps.Equal(fields, want.fields) {
		t.Errorf("custom claims = %v, want %v", fields, want.fields)
	}
}

// hasNo returns a check that the body contains none of strs.
func hasNo(strs ...string) check {
	return func(t *testing.T, _ *http.Response, body []byte) {
		t.Helper()
		for _, s := range strs {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("body contains %q", s)
			}
		}
	}
}

// hasStatus returns a check of the response's status code.
func hasStatus(code int) check {
	return func(t *testing.T, res *http.Response, _ []byte) {
		t.Helper()
		if res.StatusCode != code {
			t.Errorf("status = %d, want %d", res.StatusCode, code)
		}
	}
}

// isExactly returns a check that the response is a 200 of type ct whose body
// is want, byte for byte, with a matching Content-Length when one is sent.
func isExactly(ct string, want []byte) check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200", res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != ct {
			t.Errorf("Content-Type = %q, want %q", got, ct)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("body = %q, want %q", body, want)
		}
		if res.ContentLength >= 0 && res.ContentLength != int64(len(want)) {
			t.Errorf("Content-Length = %d, want %d", res.ContentLength, len(want))
		}
	}
}

// meBody returns what GET /api/me writes for the demo user login ("" for
// anonymous).
func meBody(t *testing.T, login string) []byte {
	t.Helper()
	var u *User
	for _, du := range demoUsers() {
		if du.Login == login {
			u = &du
		}
	}
	if login != "" && u == nil {
		t.Fatalf("no demo user %q", login)
	}
	b, err := meJSON(u)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDemo walks through the demo as a browser would: each scenario has its
// own cookie jar and runs its steps in order.
func TestDemo(t *testing.T) {
	// Every scenario's app signs with the test key, so the public key one of
	// them reports verifies the tokens of all.
	pubPEM := newTestSite(t, testKey(), io.Discard).PublicKey
	pub := parsePublicKey(t, pubPEM)
	simJS := simScript(t, pubPEM)
	alice := isVisitor(pub, visitor{
		name: "Alice Example", email: "alice@example.com", sub: "u-1001",
		fields: map[string]string{"User ID": "u-1001", "Plan": "Pro"},
	})
	bob := isVisitor(pub, visitor{
		name: "Bob Sample", sub: "u-2002",
		fields: map[string]string{"User ID": "u-2002", "Telephone": "+1 555 0100"},
	})
	noAlice := hasNo("Alice", "alice@example.com", "u-1001")
	const js = "text/javascript; charset=utf-8"
	tests := []struct {
		name  string
		steps []step
		logs  []string // the app's warnings and errors, in order
	}{
		{name: "anonymous", steps: []step{get("/", isAnonymous), get("/about", isAnonymous)}},
		{name: "alice", steps: []step{loginAs("alice", alice), get("/", alice), get("/about", alice)}},
		{name: "logout", steps: []step{loginAs("alice", alice), logout(isAnonymous), get("/about", isAnonymous)}},
		{name: "bob after alice logs out", steps: []step{loginAs("alice", alice), logout(isAnonymous), loginAs("bob", bob, noAlice), get("/about", bob, noAlice)}},
		{name: "bob over alice", steps: []step{loginAs("alice", alice), loginAs("bob", bob, noAlice)}},
		{name: "api me anonymous", steps: []step{get("/api/me", isExactly("application/json", meBody(t, "")))}},
		{name: "api me alice", steps: []step{loginAs("alice", alice), get("/api/me", isExactly("application/json", meBody(t, "alice")), hasNo("<script"))}},
		{name: "widget script anonymous", steps: []step{get(testEmbedSrc, isExactly(js, simJS))}},
		{name: "widget script alice", steps: []step{loginAs("alice", alice), get(testEmbedSrc, isExactly(js, simJS), hasNo("<script"))}},
		{name: "widget not js", steps: []step{get(simPrefix+"embed/x.css", hasStatus(http.StatusNotFound))}},
		{name: "csp page anonymous", steps: []step{get("/csp", isAnonymous, ownScriptRuns)}},
		{name: "csp page alice", steps: []step{loginAs("alice", alice), get("/csp", alice, ownScriptRuns)}},
		{name: "unknown user", steps: []step{loginAs("mallory", hasStatus(http.StatusBadRequest)), get("/", isAnonymous)}},
		{name: "cross-origin login", steps: []step{
			{method: http.MethodPost, path: "/login", form: url.Values{"user": {"alice"}}, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, checks: []check{hasStatus(http.StatusForbidden)}},
			get("/", isAnonymous),
		}},
		{
			name: "stale session cookie",
			steps: []step{
				{method: http.MethodGet, path: "/", header: http.Header{"Cookie": {"demo=signed-by-an-earlier-run"}}, checks: []check{isAnonymous, deletesSession}},
				get("/", isAnonymous),
				loginAs("alice", alice),
			},
			// A stale cookie is every visitor's state after a key rotation:
			// it is logged at debug, not as a problem (see TestStaleCookieLogsResolverCalls).
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			base, c := newTestClient(t, newTestSite(t, testKey(), &logs))
			for i, s := range tc.steps {
				res, body := s.do(t, c, base)
				for _, chk := range s.checks {
					chk(t, res, body)
				}
				if t.Failed() {
					t.Fatalf("step %d (%s %s) failed", i, s.method, s.path)
				}
			}
			if got := problems(logs.String()); !matchAll(got, tc.logs) {
				t.Errorf("the app logged %q, want records containing %q", got, tc.logs)
			}
		})
	}
}

// problems returns the WARN and ERROR records of a text log.
func problems(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// matchAll reports whether each of lines contains the substring of want at
// the same index, and there are as many lines as wants.
func matchAll(lines, want []string) bool {
	if len(lines) != len(want) {
		return false
	}
	for i, l := range lines {
		if !strings.Contains(l, want[i]) {
			return false
		}
	}
	return true
}

// deletesSession checks that the response deletes the session cookie.
func deletesSession(t *testing.T, res *http.Response, _ []byte) {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == sessionName && c.MaxAge < 0 {
			return
		}
	}
	t.Errorf("Set-Cookie = %q, want the %s cookie deleted", res.Header.Values("Set-Cookie"), sessionName)
}

// simScript returns the widget script that a Sim, on its own, serves for
// the test widget: what the demo must pass through untouched.
func simScript(t *testing.T, publicKeyPEM []byte) []byte {
	t.Helper()
	sim, err := widgetsim.New(publicKeyPEM, widgetsim.WithPrefix(simPrefix))
	if err != nil {
		t.Fatalf("widgetsim.New: %v", err)
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, testEmbedSrc, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s from the Sim = %d, want 200", testEmbedSrc, rec.Code)
	}
	return rec.Body.Bytes()
}

// ownScriptRuns checks that the /csp page has one inline script of its own,
// which the CSP lets run (hasCSP checks its nonce).
func ownScriptRuns(t *testing.T, _ *http.Response, body []byte) {
	t.Helper()
	n := 0
	for _, s := range scripts(body) {
		if strings.Contains(s.text, "csp-own-script") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("/csp has %d scripts of its own, want 1", n)
	}
}

// TestCSPNonces checks that each response gets a nonce of its own, which
// every script of the page carries: the page's own, and those the
// middleware inserts.
func TestCSPNonces(t *testing.T) {
	base, c := newTestClient(t, newTestSite(t, testKey(), io.Discard))
	seen := make(map[string]bool)
	for _, st := range []step{get("/"), get("/"), get("/csp"), loginAs("alice"), get("/about")} {
		res, body := st.do(t, c, base)
		nonce := hasCSP(t, res, body)
		if seen[nonce] {
			t.Errorf("%s %s: nonce %q was used before", st.method, st.path, nonce)
		}
		seen[nonce] = true
		if n := len(scripts(body)); n < 2 {
			t.Errorf("%s %s: %d scripts, want the widget's two at least", st.method, st.path, n)
		}
	}
}

// TestSimVerifiesPageTokens does what the widget does in a browser: it posts
// the token of Alice's page to the demo's stand-in vendor, which accepts it
// and answers her claims, and a copy whose payload is changed, which it
// rejects.
func TestSimVerifiesPageTokens(t *testing.T) {
	base, c := newTestClient(t, newTestSite(t, testKey(), io.Discard))
	_, page := loginAs("alice").do(t, c, base)
	token := pageToken(t, page)
	tests := []struct {
		name   string
		token  string
		status int
		reason string
	}{
		{"page's token", token, http.StatusOK, ""},
		{"payload changed", tamperToken(t, token), http.StatusUnauthorized, "signature invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(map[string]string{"widget": testWidgetID, "token": tc.token})
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+simPrefix+"verify", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var got struct {
				OK     bool          `json:"ok"`
				Claims jwt.MapClaims `json:"claims"`
				Error  string        `json:"error"`
			}
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatalf("decode the answer: %v", err)
			}
			if res.StatusCode != tc.status || got.OK != (tc.status == http.StatusOK) || got.Error != tc.reason {
				t.Fatalf("verify = %d %+v, want %d with error %q", res.StatusCode, got, tc.status, tc.reason)
			}
			if got.OK {
				checkClaims(t, got.Claims, aliceVisitor)
			}
		})
	}
}

// tamperToken returns token with the name in its payload changed and its
// signature kept, as someone who edits the page would make it.
func tamperToken(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", token, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload of %q: %v", token, err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("payload of %q: %v", token, err)
	}
	claims["name"] = "Mallory"
	if b, err = json.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestParseConfig checks the flags, their environment fallbacks and their
// defaults.
func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"CHATWIDGET_ADDR":        "127.0.0.1:9000",
		"CHATWIDGET_ORIGIN":      "https://env.example",
		"CHATWIDGET_KEY":         "env.pem",
		"CHATWIDGET_WIDGET":      "env-widget",
		"CHATWIDGET_SESSION_KEY": "0123456789abcdef0123456789abcdef",
		"CHATWIDGET_TTL":         "2m",
		"CHATWIDGET_REFRESH":     "false",
		"CHATWIDGET_REDIS":       "127.0.0.1:6379",
		"CHATWIDGET_PUBLISH":     "next.pem" + string(filepath.ListSeparator) + "prev.pem",
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{name: "defaults", want: config{Addr: "127.0.0.1:8080", WidgetID: "demo-widget", TTL: 10 * time.Minute, Refresh: true}},
		{name: "env", env: env, want: config{
			Addr: "127.0.0.1:9000", Origin: "https://env.example", KeyFile: "env.pem", WidgetID: "env-widget", SessionKey: env["CHATWIDGET_SESSION_KEY"], TTL: 2 * time.Minute,
			Redis: "127.0.0.1:6379", Publish: []string{"next.pem", "prev.pem"},
		}},
		{
			name: "flags over env",
			args: []string{"-addr", ":0", "-origin", "http://localhost:8443", "-key", "flag.pem", "-widget", "flag-widget", "-ttl", "90s", "-refresh",
				"-redis", "unix:///run/redis.sock", "-publish", "a.pem", "-publish", "b.pem"},
			env: env,
			want: config{
				Addr: ":0", Origin: "http://localhost:8443", KeyFile: "flag.pem", WidgetID: "flag-widget", SessionKey: env["CHATWIDGET_SESSION_KEY"], TTL: 90 * time.Second, Refresh: true,
				Redis: "unix:///run/redis.sock", Publish: []string{"a.pem", "b.pem"},
			},
		},
		{name: "refresh off", args: []string{"-refresh=false"}, want: config{Addr: "127.0.0.1:8080", WidgetID: "demo-widget", TTL: 10 * time.Minute}},
		{name: "unknown flag", args: []string{"-port", "80"}, wantErr: true},
		{name: "stray argument", args: []string{"serve"}, wantErr: true},
		{name: "bad -ttl", args: []string{"-ttl", "10"}, wantErr: true},
		{name: "bad -refresh", args: []string{"-refresh=maybe"}, wantErr: true},
		{name: "bad CHATWIDGET_TTL", env: map[string]string{"CHATWIDGET_TTL": "ten minutes"}, wantErr: true},
		{name: "bad CHATWIDGET_REFRESH", env: map[string]string{"CHATWIDGET_REFRESH": "yes please"}, wantErr: true},
		{name: "empty -publish", args: []string{"-publish", ""}, wantErr: true},
		{name: "-origin with a slash", args: []string{"-origin", "https://demo.example/"}, wantErr: true},
		{name: "-origin without a scheme", args: []string{"-origin", "demo.example"}, wantErr: true},
		{name: "bad CHATWIDGET_ORIGIN", env: map[string]string{"CHATWIDGET_ORIGIN": "ftp://demo.example"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			got, err := parseConfig(tc.args, getenv, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseConfig(%q) error = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseConfig(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

// TestPublicKeyVerifiesTokens checks that the public key the app reports,
// which Run prints, verifies the tokens it issues, whether its key comes from
// a file or is a throwaway one.
func TestPublicKeyVerifiesTokens(t *testing.T) {
	throwaway, err := loadKey("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  chatwidget.Key
	}{
		{"file", testKey()},
		{"throwaway", throwaway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSite(t, tc.key, io.Discard)
			alice := isVisitor(parsePublicKey(t, s.PublicKey), visitor{
				name: "Alice Example", email: "alice@example.com", sub: "u-1001",
				fields: map[string]string{"User ID": "u-1001", "Plan": "Pro"},
			})
			base, c := newTestClient(t, s)
			res, body := loginAs("alice").do(t, c, base)
			alice(t, res, body)
		})
	}
}

// TestRunBadKeyFile checks that Run refuses a -key file that holds no usable
// private key, with chatwidget.New's error naming the file, and prints
// nothing.
func TestRunBadKeyFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"public.pem":  newTestSite(t, testKey(), io.Discard).PublicKey,
		"garbage.pem": []byte("not a key\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"public.pem", "garbage.pem", "missing.pem"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			// A bad widget ID too: should the key be accepted, Run fails
			// (chatwidget.New reports every problem at once) instead of
			// serving forever.
			args := []string{"-key", path, "-widget", "not valid!", "-addr", "127.0.0.1:0"}
			var stdout bytes.Buffer
			err := Run(args, func(string) string { return "" }, &stdout, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "chatwidget:") || !strings.Contains(err.Error(), path) {
				t.Errorf("Run(%q) error = %v, want chatwidget's key error naming %s", args, err, path)
			}
			if stdout.Len() != 0 {
				t.Errorf("Run(%q) printed %q, want nothing", args, stdout.String())
			}
		})
	}
}

// TestNewAppErrors checks that newApp refuses a bad configuration.
func TestNewAppErrors(t *testing.T) {
	key := testKey()
	tests := []struct {
		name string
		cfg  appConfig
	}{
		{"short session key", appConfig{Origin: testOrigin, WidgetID: "w", Key: key, SessionKey: []byte("short")}},
		{"bad widget ID", appConfig{Origin: testOrigin, WidgetID: "no spaces", Key: key}},
		{"no key", appConfig{Origin: testOrigin, WidgetID: "w"}},
		{"TTL under a second", appConfig{Origin: testOrigin, WidgetID: "w", Key: key, TTL: 500 * time.Millisecond, Refresh: true}},
		{"negative vendor skew", appConfig{Origin: testOrigin, WidgetID: "w", Key: key, SimOptions: []widgetsim.Option{widgetsim.WithSkew(-time.Second)}}},
		{"no origin", appConfig{WidgetID: "w", Key: key}},
		{"origin with a path", appConfig{Origin: testOrigin + "/", WidgetID: "w", Key: key}},
		{"plain http origin", appConfig{Origin: "http://demo.example", WidgetID: "w", Key: key}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newApp(tc.cfg); err == nil {
				t.Errorf("newApp(%s) = nil error, want one", tc.name)
			}
		})
	}
	if _, err := newApp(appConfig{Origin: testOrigin, WidgetID: "w", Key: key}); err != nil {
		t.Errorf("newApp with a good configuration = %v", err)
	}
}

// TestListenOrigin checks the origin run derives from its listen address
// when -origin is not given.
func TestListenOrigin(t *testing.T) {
	tests := []struct {
		addr    net.Addr
		want    string // "" when wantErr is set
		wantErr string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080", ""},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080", ""},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://localhost:8080", ""},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://localhost:8080", ""},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 8080}, "", "pass -origin"},
	}
	for _, tc := range tests {
		got, err := listenOrigin(tc.addr)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("listenOrigin(%v) = %q, %v; want %q, an error containing %q", tc.addr, got, err, tc.want, tc.wantErr)
		}
	}
}
