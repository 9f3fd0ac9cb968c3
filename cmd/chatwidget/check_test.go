package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// The session cookie of the test sites: session=alice is Alice, logged in.
const aliceCookie = "session=alice"

// alice is the visitor of the test sites' session cookie.
var alice = &chatwidget.Visitor{Name: "Alice", Email: "alice@example.com", Subject: "u-1", Fields: map[string]any{"Plan": "pro"}}

// sessionResolver knows alice by her cookie; everyone else is anonymous.
var sessionResolver = chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
	if c, err := r.Cookie("session"); err == nil && c.Value == "alice" {
		return alice, nil
	}
	return nil, nil
})

// nonceKey is the context key of the test CSP middleware's nonce.
type nonceKey struct{}

// withCSP is a site's CSP middleware: it makes a nonce per request, puts it
// in the request's context and in the Content-Security-Policy header.
func withCSP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16)
		rand.Read(b)
		nonce := base64.RawURLEncoding.EncodeToString(b)
		w.Header().Set("Content-Security-Policy", "script-src 'nonce-"+nonce+"' 'strict-dynamic'; object-src 'none'; base-uri 'none'")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}

// withLateCSP is withCSP set where the middleware cannot see the policy:
// on the way out, when the response's headers are written, as a proxy in
// front would add it. The middleware reads a policy the handler set, so
// only such a site can get the nonce wrong.
func withLateCSP(next http.Handler) http.Handler {
	return withCSP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		policy := w.Header().Get("Content-Security-Policy")
		w.Header().Del("Content-Security-Policy")
		next.ServeHTTP(&lateHeader{ResponseWriter: w, key: "Content-Security-Policy", value: policy}, r)
	}))
}

// lateHeader sets a header when the response's headers are written.
type lateHeader struct {
	http.ResponseWriter
	key, value string
	done       bool
}

func (l *lateHeader) set() {
	if !l.done {
		l.done = true
		l.Header().Set(l.key, l.value)
	}
}

func (l *lateHeader) WriteHeader(code int) { l.set(); l.ResponseWriter.WriteHeader(code) }

func (l *lateHeader) Write(p []byte) (int, error) { l.set(); return l.ResponseWriter.Write(p) }

func (l *lateHeader) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// contextNonce is the WithNonce function for withCSP.
func contextNonce(r *http.Request) string {
	s, _ := r.Context().Value(nonceKey{}).(string)
	return s
}

// freshNonce is a WithNonce function gone wrong: a new nonce, not the
// header's.
func freshNonce(*http.Request) string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const (
	pageHead = `<!doctype html><html><head><title>Shop</title></head><body><main id="app"><p>Hello</p></main><footer>f</footer>`
	pageTail = `</body></html>`
)

// A testSite is a site served through the real middleware, which answers
// its JWKS at /chatwidget/jwks.json.
type testSite struct {
	mw  *chatwidget.Middleware
	srv *httptest.Server
}

// newSite serves the test pages through a middleware that signs with key and
// opts; wrap, if not nil, wraps the whole site (a CSP middleware).
func newSite(t *testing.T, key chatwidget.Key, wrap func(http.Handler) http.Handler, opts ...chatwidget.Option) *testSite {
	t.Helper()
	mw, err := chatwidget.New("shop-1", key, sessionResolver, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	html := func(body func(r *http.Request) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body(r))
		}
	}
	mux.HandleFunc("GET /{$}", html(func(*http.Request) string { return pageHead + pageTail }))
	// A layout that places the snippet itself, after </html>, where the
	// middleware has already inserted it before </body>.
	mux.HandleFunc("GET /twice", html(func(r *http.Request) string { return pageHead + pageTail + string(mw.Snippet(r)) }))
	// A layout that places the snippet inside a <template>.
	mux.HandleFunc("GET /template", html(func(r *http.Request) string {
		return pageHead + `<template id="row">` + string(mw.Snippet(r)) + `</template>` + pageTail
	}))
	mux.HandleFunc("GET /svg", html(func(r *http.Request) string {
		return pageHead + `<svg viewBox="0 0 1 1">` + string(mw.Snippet(r)) + `</svg>` + pageTail
	}))
	mux.HandleFunc("GET /textarea", html(func(r *http.Request) string {
		return pageHead + `<textarea>` + template.HTMLEscapeString(string(mw.Snippet(r))) + `</textarea>` + pageTail
	}))
	mux.HandleFunc("GET /login", html(func(*http.Request) string { return pageHead + `<form>log in</form>` + pageTail }))
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"Alice"}`)
	})
	// An API that answers a partial of the layout, rendered with the
	// snippet of the visitor (Snippet gives nothing to a fetch, SnippetFor
	// does not know the request).
	mux.HandleFunc("GET /api/partial", func(w http.ResponseWriter, r *http.Request) {
		snippet, err := mw.SnippetFor(alice)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"html": `<div>cart</div>` + string(snippet)})
	})
	mux.HandleFunc("GET /logo.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	})
	mux.HandleFunc("GET /feed.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	})
	var h http.Handler = mw.Handler(mux)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testSite{mw, srv}
}

// proxy serves site through a reverse proxy whose modify changes each
// response: a CDN or a proxy configured wrong.
func proxy(t *testing.T, site *testSite, modify func(h http.Header)) string {
	t.Helper()
	target, err := url.Parse(site.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error { modify(resp.Header); return nil },
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// stalePage serves, through the middleware of site (which leaves a page with
// the widget alone), a page whose snippet a cache kept: its token, signed
// by key with the kid of its public key, has claims.
func stalePage(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := mintKid(t, key, claims)
	mw, err := chatwidget.New("shop-1", chatwidget.KeyRSA(key), sessionResolver)
	if err != nil {
		t.Fatal(err)
	}
	page := pageHead + `<script data-chatwidget async src="https://widget.chatwidget.dev/v1/shop-1.js"></script>` +
		`<script>window.chatWidgetCustomerData=function(done){done("` + tok + `")};</script>` + pageTail
	srv := httptest.NewServer(mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A line is a line the report must hold: its level, its check and a part of
// its message.
type line struct{ level, check, has string }

// reportLines splits check's report into its lines by check.
func reportLines(t *testing.T, stdout string) map[string][]string {
	t.Helper()
	byCheck := make(map[string][]string)
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		lvl, rest, _ := strings.Cut(l, " ")
		name, _, ok := strings.Cut(strings.TrimLeft(rest, " "), ": ")
		if !ok || lvl != "ok" && lvl != "warn" && lvl != "FAIL" {
			t.Fatalf("report line %q is not \"level check: message\"", l)
		}
		byCheck[name] = append(byCheck[name], l)
	}
	return byCheck
}

// TestCheck runs check against sites served by the real middleware: a good
// one, and ones broken on purpose, as a site owner would break them.
func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPub := writePublic(t, dir, "other.pem", &other.PublicKey)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	good := newSite(t, chatwidget.KeyFile(testPriv), nil)
	otherKey := newSite(t, chatwidget.KeyRSA(other), nil)
	shortTTL := newSite(t, chatwidget.KeyFile(testPriv), nil, chatwidget.WithTTL(30*time.Second))
	ps256 := newSite(t, chatwidget.KeyFile(testPriv), nil, chatwidget.WithAlgorithm(chatwidget.PS256), chatwidget.WithKeyID("shop-2026"))
	es256 := newSite(t, chatwidget.KeyFile(writePrivate(t, dir, "ec.key", ec)), nil, chatwidget.WithAlgorithm(chatwidget.ES256))
	cspGood := newSite(t, chatwidget.KeyFile(testPriv), withCSP, chatwidget.WithNonce(contextNonce))
	cspFresh := newSite(t, chatwidget.KeyFile(testPriv), withLateCSP, chatwidget.WithNonce(freshNonce))
	cspNone := newSite(t, chatwidget.KeyFile(testPriv), withLateCSP)
	public := proxy(t, good, func(h http.Header) { h.Set("Cache-Control", "public, max-age=300") })
	cdn := proxy(t, good, func(h http.Header) { h.Set("CDN-Cache-Control", "max-age=600") })
	noVary := proxy(t, good, func(h http.Header) { h.Del("Vary") })
	varySet := proxy(t, good, func(h http.Header) { h.Set("Vary", "Accept-Encoding") })
	now := time.Now()
	expired := stalePage(t, key, jwt.MapClaims{"name": "Alice", "isLoggedIn": true, "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-50 * time.Minute).Unix()})
	noName := stalePage(t, key, jwt.MapClaims{"isLoggedIn": true, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	// The JWKS that `chatwidget jwks` prints without -alg announces the key
	// for RS256: a PS256 site needs -alg PS256.
	rs256JWKS := jwksServer(t, testPub)

	g := good.srv.URL
	tests := []struct {
		name   string
		args   []string
		code   int
		want   []line
		absent []string // checks that must not be in the report
	}{
		{
			name: "good page",
			args: []string{g + "/", "-cookie", aliceCookie, "-pub", testPub, "-leftalone", "/api/me", "-leftalone", "/logo.png", "-leftalone", g + "/feed.json"},
			want: []line{
				{"ok", "fetch", "200 OK"}, {"ok", "widget", "found once, at html > body > script (after <footer>)"},
				{"ok", "token", "RS256"}, {"ok", "signature", "verified by " + testPub},
				{"ok", "claims", `"name":"Alice"`}, {"ok", "expiry", "expires in"},
				{"ok", "cache", "private"}, {"ok", "vary", "Cookie"}, {"ok", "csp", "no Content-Security-Policy"},
				{"ok", "leftalone", "/api/me (Sec-Fetch-Dest: empty"}, {"ok", "leftalone", "/logo.png (Sec-Fetch-Dest: image"},
				{"ok", "leftalone", "/feed.json"},
			},
		},
		{
			name: "flags before the URL",
			args: []string{"-cookie", aliceCookie, "-pub", testPub, g + "/"},
			want: []line{{"ok", "widget", "found once"}, {"ok", "signature", "verified"}},
		},
		{
			name:   "anonymous",
			args:   []string{g + "/", "-pub", testPub},
			want:   []line{{"ok", "widget", "found once"}, {"warn", "token", "pass the session cookie with -cookie"}},
			absent: []string{"signature", "claims", "cache", "vary"},
		},
		{
			name: "cookie not accepted",
			args: []string{g + "/", "-cookie", "session=mallory", "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "widget", "found once"}, {"FAIL", "token", "anonymous visitor with these cookies"}},
		},
		{
			name: "no key",
			args: []string{g + "/", "-cookie", aliceCookie},
			want: []line{{"warn", "signature", "not checked"}, {"ok", "claims", `"name":"Alice"`}, {"ok", "cache", "private"}},
		},
		{
			name: "widget twice",
			args: []string{g + "/twice", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "widget", "found 2 times (html > body > script (after <footer>); html > body > script (after <script>))"}},
		},
		{
			name: "widget inside a template",
			args: []string{g + "/template", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "widget", "at html > body > template#row > script it is inside <template>, whose content is inert"}},
		},
		{
			name: "widget inside svg",
			args: []string{g + "/svg", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "widget", "html > body > svg > script it is an SVG script, in foreign content"}, {"ok", "token", "RS256"}},
		},
		{
			name: "token signed by another key",
			args: []string{otherKey.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "widget", "found once"}, {"FAIL", "signature", "was it signed by another key?"}, {"ok", "claims", "Alice"}},
		},
		{
			name: "token signed by the other key",
			args: []string{otherKey.srv.URL + "/", "-cookie", aliceCookie, "-pub", otherPub},
			want: []line{{"ok", "signature", "verified by " + otherPub}},
		},
		{
			name: "expired token",
			args: []string{expired + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "widget", "found once"}, {"ok", "signature", "verified"}, {"FAIL", "expiry", "expired 50m"}},
		},
		{
			name: "token without name",
			args: []string{noName + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "claims", "missing claim name"}},
		},
		{
			name: "token close to its exp",
			args: []string{shortTTL.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			want: []line{{"warn", "expiry", "a visitor who opens the chat later is not known"}},
		},
		{
			name: "public caching",
			args: []string{public + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "signature", "verified"}, {"FAIL", "cache", "Cache-Control: public, max-age=300 has public: a shared cache"}},
		},
		{
			name: "CDN cache header",
			args: []string{cdn + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "cache", "Cdn-Cache-Control: max-age=600 tells a CDN to store the page"}},
		},
		{
			name: "missing Vary",
			args: []string{noVary + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "cache", "private"}, {"FAIL", "vary", "no Vary on a page with a token"}},
		},
		{
			name: "Vary replaced",
			args: []string{varySet + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "vary", "Vary: Accept-Encoding has no Cookie"}},
		},
		{
			name: "CSP nonce",
			args: []string{cspGood.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			want: []line{{"ok", "csp", "on the widget's 2 scripts matches the Content-Security-Policy header (script-src)"}},
		},
		{
			name: "CSP nonce anonymous",
			args: []string{cspGood.srv.URL + "/"},
			want: []line{{"ok", "csp", "on the widget's script matches"}},
		},
		{
			name: "CSP nonce mismatch",
			args: []string{cspFresh.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"ok", "signature", "verified"}, {"FAIL", "csp", "the widget's script has nonce"}},
		},
		{
			name: "CSP without WithNonce",
			args: []string{cspNone.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			code: exitFailure,
			want: []line{{"FAIL", "csp", "the widget's script has no nonce, and the Content-Security-Policy header (script-src) allows only scripts with 'nonce-"}},
		},
		{
			name: "JSON endpoint with the widget",
			args: []string{g + "/", "-cookie", aliceCookie, "-pub", testPub, "-leftalone", "/api/partial", "-leftalone", "/api/me"},
			code: exitFailure,
			want: []line{{"FAIL", "leftalone", "/api/partial (Sec-Fetch-Dest: empty; 200 OK, application/json) carries the widget"}, {"ok", "leftalone", "/api/me"}},
		},
		{
			name: "PS256 and kid by JWKS",
			args: []string{ps256.srv.URL + "/", "-cookie", aliceCookie, "-jwks", ps256.srv.URL + "/chatwidget/jwks.json"},
			want: []line{{"ok", "token", `PS256, kid "shop-2026"`}, {"ok", "signature", `(key "shop-2026")`}},
		},
		{
			name: "PS256 by -pub",
			args: []string{ps256.srv.URL + "/", "-cookie", aliceCookie, "-pub", testPub},
			want: []line{{"ok", "signature", "verified by " + testPub}},
		},
		{
			name: "ES256 by JWKS",
			args: []string{es256.srv.URL + "/", "-cookie", aliceCookie, "-jwks", es256.srv.URL + "/chatwidget/jwks.json"},
			want: []line{{"ok", "token", "ES256"}, {"ok", "signature", "verified"}},
		},
		{
			name: "PS256 token, JWKS announces RS256",
			args: []string{ps256.srv.URL + "/", "-cookie", aliceCookie, "-jwks", rs256JWKS},
			code: exitFailure,
			want: []line{{"FAIL", "signature", "the key set has no key with kid \"shop-2026\""}},
		},
		{
			name: "JWKS of another site",
			args: []string{g + "/", "-cookie", aliceCookie, "-jwks", otherKey.srv.URL + "/chatwidget/jwks.json"},
			code: exitFailure,
			want: []line{{"FAIL", "signature", "the key set has no key with kid"}},
		},
		{
			name: "JWKS not found",
			args: []string{g + "/", "-cookie", aliceCookie, "-jwks", g + "/nope.json"},
			code: exitFailure,
			want: []line{{"FAIL", "signature", "404 Not Found"}},
		},
		{
			name:   "not HTML",
			args:   []string{g + "/api/me", "-cookie", aliceCookie},
			code:   exitFailure,
			want:   []line{{"FAIL", "fetch", `Content-Type "application/json", not an HTML page`}},
			absent: []string{"widget"},
		},
		{
			name: "not found",
			args: []string{g + "/nope", "-cookie", aliceCookie},
			code: exitFailure,
			want: []line{{"FAIL", "fetch", "404 Not Found"}},
		},
		{
			name: "redirected",
			args: []string{g + "/account", "-cookie", aliceCookie},
			want: []line{{"ok", "fetch", "redirected to " + g + "/login"}},
		},
		{
			name: "widget as text",
			args: []string{g + "/textarea", "-cookie", aliceCookie, "-pub", testPub},
			want: []line{{"ok", "widget", "found once, at html > body > script (after <textarea>)"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check"}, tc.args...)
			r := cli(t, "", args...)
			r.check(t, args, tc.code, "")
			got := reportLines(t, r.stdout)
			for _, w := range tc.want {
				if !slices.ContainsFunc(got[w.check], func(l string) bool {
					return strings.HasPrefix(l, w.level+" ") && strings.Contains(l, w.has)
				}) {
					t.Errorf("chatwidget %q: no %s %s line with %q; report:\n%s", args, w.level, w.check, w.has, r.stdout)
				}
			}
			for _, c := range tc.absent {
				if len(got[c]) > 0 {
					t.Errorf("chatwidget %q: report has %q, want no %s check", args, got[c], c)
				}
			}
			failed := 0
			for _, ls := range got {
				for _, l := range ls {
					if strings.HasPrefix(l, "FAIL ") {
						failed++
					}
				}
			}
			if (failed > 0) != (tc.code == exitFailure) {
				t.Errorf("chatwidget %q: exit %d with %d FAIL lines", args, r.code, failed)
			}
		})
	}
}

// jwksServer serves the JWKS that `chatwidget jwks` prints for args.
func jwksServer(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"jwks"}, args...)
	r := cli(t, "", args...)
	r.check(t, args, exitOK, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		fmt.Fprint(w, r.stdout)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCheckUsage checks the command lines and pages that give exit 2.
func TestCheckUsage(t *testing.T) {
	t.Parallel()
	site := newSite(t, chatwidget.KeyFile(testPriv), nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	u := site.srv.URL + "/"
	tests := []struct {
		name      string
		args      []string
		stderrHas string
	}{
		{"no URL", []string{"-pub", testPub}, "missing argument"},
		{"two URLs", []string{u, u}, "too many arguments"},
		{"not http", []string{"ftp://example.com/"}, "want an absolute http:// or https:// URL"},
		{"relative URL", []string{"/account"}, "want an absolute http:// or https:// URL"},
		{"-pub and -jwks", []string{u, "-pub", testPub, "-jwks", u + ".well-known/jwks.json"}, "give -pub or -jwks, not both"},
		{"cookie without =", []string{u, "-cookie", "session"}, "want name=value"},
		{"cookie name with a space", []string{u, "-cookie", "my session=a"}, "want name=value"},
		{"cookie value with ;", []string{u, "-cookie", "session=a; b=c"}, "holds no ';'"},
		{"no -pub file", []string{u, "-pub", "nope.pem"}, "no such file"},
		{"-pub a private key", []string{u, "-pub", testPriv}, "a private key was given"},
		{"relative -jwks", []string{u, "-jwks", "/jwks.json"}, "-jwks"},
		{"bad -leftalone", []string{u, "-leftalone", "ftp://example.com/x"}, "-leftalone"},
		{"zero timeout", []string{u, "-timeout", "0s"}, "-timeout 0s is not positive"},
		{"unreachable", []string{closed.URL + "/"}, "fetch " + closed.URL + "/"},
		{"flag after --", []string{"--", u, "-pub"}, "too many arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"check"}, tc.args...)
			r := cli(t, "", args...)
			r.check(t, args, exitUsage, tc.stderrHas)
			if r.stdout != "" {
				t.Errorf("chatwidget %q: stdout = %q, want nothing", args, r.stdout)
			}
		})
	}
}

func TestCheckExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	// As the claims of a decoded token: JSON numbers.
	at := func(d time.Duration) json.Number { return json.Number(strconv.FormatInt(now.Add(d).Unix(), 10)) }
	tests := []struct {
		name   string
		claims jwt.MapClaims
		level  level
		has    string
	}{
		{"fresh", jwt.MapClaims{"iat": at(0), "exp": at(10 * time.Minute)}, levelOK, "expires in 10m0s (exp 2027-01-15T08:10:00Z, lifetime 10m0s)"},
		{"half gone", jwt.MapClaims{"iat": at(-5 * time.Minute), "exp": at(5 * time.Minute)}, levelOK, "expires in 5m0s"},
		{"from a cache", jwt.MapClaims{"iat": at(-8 * time.Minute), "exp": at(2 * time.Minute)}, levelWarn, "2m0s of its 10m0s left"},
		{"too close", jwt.MapClaims{"iat": at(-20 * time.Second), "exp": at(40 * time.Second)}, levelWarn, "expires in 40s"},
		{"expired", jwt.MapClaims{"iat": at(-20 * time.Minute), "exp": at(-10 * time.Minute)}, levelFail, "expired 10m0s ago"},
		{"expired now", jwt.MapClaims{"iat": at(-10 * time.Minute), "exp": at(0)}, levelFail, "expired 0s ago"},
		{"issued in the future", jwt.MapClaims{"iat": at(2 * time.Minute), "exp": at(12 * time.Minute)}, levelFail, "issued 2m0s in the future"},
		{"within the skew", jwt.MapClaims{"iat": at(10 * time.Second), "exp": at(10 * time.Minute)}, levelOK, "expires in"},
		{"no exp", jwt.MapClaims{"iat": at(0)}, levelFail, "no valid exp claim"},
		{"exp a string", jwt.MapClaims{"iat": at(0), "exp": "soon"}, levelFail, "no valid exp claim"},
		{"no iat", jwt.MapClaims{"exp": at(time.Minute)}, levelFail, "no valid iat claim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := checkExpiry(tc.claims, now)
			if f.level != tc.level || !strings.Contains(f.msg, tc.has) {
				t.Errorf("checkExpiry(%v) = %s %q, want %s with %q", tc.claims, f.level, f.msg, tc.level, tc.has)
			}
		})
	}
}

// TestCheckPSSSalt checks that check, as verify, refuses a page whose PS256
// token openssl signed with a salt shorter than the hash.
func TestCheckPSSSalt(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	now := time.Now()
	claims := map[string]any{"name": "Alice", "isLoggedIn": true, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for _, tc := range []struct {
		saltlen string
		level   string
		has     string
	}{
		{"32", "ok", "verified by"},
		{"20", "FAIL", "salt is not 32 bytes long"},
	} {
		t.Run("saltlen "+tc.saltlen, func(t *testing.T) {
			t.Parallel()
			tok := opensslPS256(t, testPriv, tc.saltlen, claims)
			page := pageHead + `<script data-chatwidget async src="https://widget.chatwidget.dev/v1/shop-1.js"></script>` +
				`<script>window.chatWidgetCustomerData=function(done){done("` + tok + `")};</script>` + pageTail
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Cache-Control", "private")
				w.Header().Set("Vary", "Cookie")
				fmt.Fprint(w, page)
			}))
			t.Cleanup(srv.Close)
			args := []string{"check", srv.URL, "-cookie", aliceCookie, "-pub", testPub}
			r := cli(t, "", args...)
			got := reportLines(t, r.stdout)
			if !slices.ContainsFunc(got["signature"], func(l string) bool { return strings.HasPrefix(l, tc.level+" ") && strings.Contains(l, tc.has) }) {
				t.Errorf("chatwidget %q: signature = %q, want %s with %q", args, got["signature"], tc.level, tc.has)
			}
		})
	}
}
