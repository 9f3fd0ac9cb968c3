package chatwidget

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTokenHandler(t *testing.T) {
	tests := []struct {
		name       string
		resolver   Resolver
		method     string
		header     []string
		wantCode   int
		wantLogged bool
		wantError  string
	}{
		{"logged in, same origin", fixed(alice), "GET", []string{"Sec-Fetch-Site", "same-origin"}, 200, true, ""},
		{"logged in, no metadata", fixed(alice), "GET", nil, 200, true, ""},
		{"logged in, typed into the address bar", fixed(alice), "GET", []string{"Sec-Fetch-Site", "none"}, 200, true, ""},
		{"logged in, Origin matches", fixed(alice), "GET", []string{"Origin", "http://example.com"}, 200, true, ""},
		{"anonymous", fixed(nil), "GET", nil, 200, false, ""},
		{"resolver fails", ResolverFunc(func(*http.Request) (*Visitor, error) { panic("x") }), "GET", nil, 200, false, ""},
		{"cross-site", fixed(alice), "GET", []string{"Sec-Fetch-Site", "cross-site"}, 403, false, "cross-origin request refused"},
		{"same-site subdomain", fixed(alice), "GET", []string{"Sec-Fetch-Site", "same-site"}, 403, false, "cross-origin"},
		{"other Origin", fixed(alice), "GET", []string{"Origin", "https://evil.example"}, 403, false, "cross-origin"},
		{"null Origin", fixed(alice), "GET", []string{"Origin", "null"}, 403, false, "cross-origin"},
		{"Origin with the default port", fixed(alice), "GET", []string{"Origin", "http://example.com:80"}, 200, true, ""},
		{"POST", fixed(alice), "POST", nil, 405, false, "method not allowed"},
		{"HEAD", fixed(alice), "HEAD", nil, 200, false, ""},
		{"OPTIONS", fixed(alice), "OPTIONS", []string{"Origin", "https://evil.example"}, 204, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, tc.resolver, nil)
			req := httptest.NewRequest(tc.method, "/chatwidget/token", nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			rec := serve(m.TokenHandler(), req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS header sent: %v", rec.Header())
			}
			if tc.method == "HEAD" || tc.method == "OPTIONS" {
				if rec.Body.Len() != 0 {
					t.Errorf("%s has a body: %q", tc.method, rec.Body)
				}
				if tc.method == "OPTIONS" && rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
					t.Errorf("OPTIONS Allow = %q", rec.Header().Get("Allow"))
				}
				return
			}
			var got tokenResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			if got.LoggedIn != tc.wantLogged || !strings.Contains(got.Error, tc.wantError) {
				t.Errorf("body = %+v, want loggedIn %v, error %q", got, tc.wantLogged, tc.wantError)
			}
			if tc.wantLogged {
				claims := parseToken(t, got.Token)
				exp, _ := claims.GetExpirationTime()
				if claims["name"] != alice.Name || exp.Unix() != got.ExpiresAt || got.WidgetID != "test-widget" {
					t.Errorf("token claims %v, expiresAt %d, widget %q", claims, got.ExpiresAt, got.WidgetID)
				}
			} else if got.Token != "" {
				t.Errorf("token %q handed out", got.Token)
			}
		})
	}
}

// TestTokenHandlerSharesPages checks that the token endpoint answers the
// token of the page: the same resolver, claims and cache, so that a page
// and the refresh after it cost one signature.
func TestTokenHandlerSharesPages(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	pageToken := tokenIn(t, serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String())
	rec := serve(m.TokenHandler(), httptest.NewRequest("GET", "/chatwidget/token", nil))
	var got tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	if got.Token != pageToken {
		t.Errorf("endpoint token = %q, want the page's %q", got.Token, pageToken)
	}
	if st := m.Stats(); st.TokensSigned != 1 || st.TokenCacheHits != 1 {
		t.Errorf("Stats = %+v, want one signature and the endpoint's cache hit", st)
	}
}

// TestRefreshScript checks the refresh script a logged-in page carries, and
// that anonymous pages carry none.
func TestRefreshScript(t *testing.T) {
	r := Refresh{Endpoint: "/chatwidget/token", Update: "ChatWidget.setToken", Logout: "ChatWidget.logout", ExpiredHook: "chatWidgetTokenExpired"}
	m := newTest(t, fixed(alice), nil, WithTTL(2*time.Minute), WithRefresh(r), WithNonce(func(*http.Request) string { return "abc" }))
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	s := scripts(t, body)
	if len(s) != 3 {
		t.Fatalf("%d scripts, want embed, customer data and refresh: %s", len(s), body)
	}
	_, exp, _ := m.TokenFor(alice)
	for _, want := range []string{`"endpoint":"/chatwidget/token"`, `"update":"ChatWidget.setToken"`, `"before":12000`, "exp=" + itoa(exp.Unix()) + "*1000"} {
		if !strings.Contains(s[2].text, want) {
			t.Errorf("refresh script lacks %q: %s", want, s[2].text)
		}
	}
	if s[2].attrs["nonce"] != "abc" {
		t.Errorf("refresh script nonce = %q", s[2].attrs["nonce"])
	}
	hidden := newTest(t, fixed(alice), nil, WithRefresh(Refresh{Endpoint: "/t", Update: "Vendor.JWT_TOKEN"}))
	tok, _, _ := hidden.TokenFor(alice)
	if body := serve(hidden.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String(); strings.Count(body, tok) != 1 {
		t.Errorf("a placeholder in the refresh config was filled in: %s", body)
	}
	anon := newTest(t, fixed(nil), nil, WithRefresh(r))
	if body := serve(anon.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String(); strings.Contains(body, "fetch(") {
		t.Errorf("anonymous page carries the refresh script: %s", body)
	}
	for _, bad := range []Refresh{
		{Endpoint: "https://evil.example/t", Update: "a"},
		{Endpoint: "//evil.example/t", Update: "a"},
		{Endpoint: "/t", Update: "a);alert(1)//"},
		{Endpoint: "/t", Update: "a", ExpiredHook: "x.y"},
		{Endpoint: "/t", Update: "a", Before: time.Hour},
		{Endpoint: "/\\evil.example/t", Update: "a"},
		{Endpoint: "/\t/evil.example/t", Update: "a"},
	} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithRefresh(bad)); err == nil || !strings.Contains(err.Error(), "refresh") {
			t.Errorf("WithRefresh(%+v) = %v, want a refresh error", bad, err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRefreshScriptInNode runs the refresh script in Node against a stub
// endpoint: the vendor's function is called as a method, a vendor error or
// a failed fetch never stops the refreshing, only {"loggedIn":false} logs
// out, and a widget that loads late gets the fresh token when it asks.
func TestRefreshScriptInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is missing")
		}
		t.Skip("node not installed")
	}
	m := newTest(t, fixed(alice), nil, WithTTL(6*time.Second), WithRefresh(Refresh{Endpoint: "/t", Update: "Vendor.setToken", Logout: "Vendor.logout", ExpiredHook: "expired"}))
	s := scripts(t, serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String())
	file := filepath.Join(t.TempDir(), "refresh.js")
	os.WriteFile(file, []byte(s[2].text), 0o600)
	type result struct {
		Fetches    int
		Tokens     []string
		Logout     bool
		ArmedAfter int
		Rejections []string
	}
	tests := []struct {
		name, which string
		check       func(r result) bool
	}{
		{"method call", "this", func(r result) bool { return len(r.Tokens) == 1 && r.ArmedAfter > 0 }},
		{"vendor throws", "throw", func(r result) bool { return len(r.Tokens) == 0 && r.ArmedAfter > 0 && !r.Logout }},
		{"endpoint fails", "503", func(r result) bool { return !r.Logout && r.ArmedAfter > 0 }},
		{"logged out", "logout", func(r result) bool { return r.Logout && r.ArmedAfter == 0 }},
		{"late widget", "late", func(r result) bool { return len(r.Tokens) == 1 && r.Tokens[0] == "fresh" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(node, "testdata/refresh_harness.js", file, tc.which).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("harness printed %q: %v", out, err)
			}
			if !tc.check(r) || len(r.Rejections) > 0 {
				t.Errorf("%s: %+v", tc.which, r)
			}
		})
	}
}

// TestOwnEndpoints checks that the middleware answers its own endpoints
// under its prefix before any route of the wrapped handler, however broad,
// and leaves every other path to it.
func TestOwnEndpoints(t *testing.T) {
	catchAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "router: "+r.URL.Path)
	})
	tests := []struct {
		name     string
		opts     []Option
		path     string
		wantType string // the Content-Type of the middleware's answer; "" for the router's
	}{
		{"token", nil, "/chatwidget/token", "application/json"},
		{"jwks", nil, "/chatwidget/jwks.json", "application/jwk-set+json"},
		{"mobile", []Option{WithMobileURLTemplate("https://chat.example/m/WIDGET_ID?jwt=JWT_TOKEN")}, "/chatwidget/mobile", "application/json"},
		{"mobile without a template", nil, "/chatwidget/mobile", ""},
		{"other path under the prefix", nil, "/chatwidget/tokens", ""},
		{"the prefix itself", nil, "/chatwidget/", ""},
		{"elsewhere", nil, "/token", ""},
		{"moved", []Option{WithEndpoints("/_/cw/")}, "/_/cw/token", "application/json"},
		{"moved away", []Option{WithEndpoints("/_/cw/")}, "/chatwidget/token", ""},
		{"off", []Option{WithEndpoints("")}, "/chatwidget/token", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil, tc.opts...)
			r := httptest.NewRequest("GET", tc.path+"?format=json", nil)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			rec := serve(m.Handler(catchAll), r)
			if tc.wantType == "" {
				if got := rec.Body.String(); got != "router: "+tc.path {
					t.Errorf("GET %s = %q, want the router's answer", tc.path, got)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) || rec.Code != http.StatusOK {
				t.Errorf("GET %s = %d %s %q, want 200 %s from the middleware", tc.path, rec.Code, ct, rec.Body, tc.wantType)
			}
		})
	}
}

// TestEndpointsOptions checks WithEndpoints' validation and the default
// refresh endpoint it gives.
func TestEndpointsOptions(t *testing.T) {
	for _, p := range []string{"chatwidget/", "/chatwidget", "//evil.example/", "/a b/", "/x?/"} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithEndpoints(p)); err == nil || !strings.Contains(err.Error(), "endpoints prefix") {
			t.Errorf("WithEndpoints(%q): New error = %v, want one about the prefix", p, err)
		}
	}
	_, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithEndpoints(""), WithRefresh(Refresh{Update: "ChatWidget.setToken"}))
	if err == nil || !strings.Contains(err.Error(), "refresh endpoint is empty") {
		t.Errorf("no endpoint anywhere: New error = %v", err)
	}
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{nil, `"endpoint":"/chatwidget/token"`},
		{[]Option{WithEndpoints("/_/cw/")}, `"endpoint":"/_/cw/token"`},
	} {
		m := newTest(t, fixed(alice), nil, append(tc.opts, WithRefresh(Refresh{Update: "ChatWidget.setToken"}))...)
		if body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String(); !strings.Contains(body, tc.want) {
			t.Errorf("refresh script lacks %s: %s", tc.want, body)
		}
	}
}
