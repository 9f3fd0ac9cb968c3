package chatwidget

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNewErrors checks that New returns every configuration problem at
// once, each with what to do, and logs none of them.
func TestNewErrors(t *testing.T) {
	key := KeyPEM(testKeyPEM(t))
	tests := []struct {
		name     string
		widget   string
		key      Key
		resolver Resolver
		opts     []Option
		want     []string
	}{
		{"bad widget ID", `w"><script>`, key, fixed(nil), nil, []string{"widget ID", "A-Z a-z 0-9 - _"}},
		{"empty widget ID", "", key, fixed(nil), nil, []string{"widget ID"}},
		{"widget ID of 129 characters", strings.Repeat("w", 129), key, fixed(nil), nil, []string{"widget ID", "1 to 128 characters"}},
		{"nil resolver", "w1", key, nil, nil, []string{"resolver is nil"}},
		{"no key", "w1", Key{}, fixed(nil), nil, []string{"key is missing", "KeyFile"}},
		{"short TTL", "w1", key, fixed(nil), []Option{WithTTL(time.Millisecond)}, []string{"TTL 1ms is out of range"}},
		{"long TTL", "w1", key, fixed(nil), []Option{WithTTL(48 * time.Hour)}, []string{"TTL 48h0m0s"}},
		{"negative cache", "w1", key, fixed(nil), []Option{WithTokenCacheBytes(-1)}, []string{"budget -1 is negative"}},
		{"embed without script", "w1", key, fixed(nil), []Option{WithEmbedTemplate("<div>chat</div>")}, []string{"embed template", "no <script>"}},
		{"empty audience", "w1", key, fixed(nil), []Option{WithAudience("")}, []string{"empty audience"}},
		{"all at once", "", Key{}, nil, nil, []string{"widget ID", "resolver is nil", "key is missing"}},
		{"every template problem", "w1", key, fixed(nil), []Option{
			WithEmbedTemplate(`<div>chat</div><img src="/w.png">`),
			WithCustomerDataTemplate(`<script src="//cdn.example/cd.js"></script>`),
			WithAnonymousTemplate(`<script>x("JWT_TOKEN")</script>`),
			WithRefresh(Refresh{Endpoint: "token", Update: "1x"}),
			WithMobileURLTemplate("/m?jwt=JWT_TOKEN"),
		}, []string{"embed template", "no <script>", `img src "/w.png"`, "customer-data template", `"//cdn.example/cd.js"`,
			"no JWT_TOKEN placeholder", "anonymous template holds JWT_TOKEN", "refresh endpoint", "refresh Update", "mobile URL template"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			opts := append([]Option{WithLogger(debugLogger(logs))}, tc.opts...)
			m, err := New(tc.widget, tc.key, tc.resolver, opts...)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", m)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error = %q, want it to contain %q", err, w)
				}
			}
			if logs.String() != "" {
				t.Errorf("New logged %q; configuration problems are returned, never logged", logs)
			}
		})
	}
	for _, id := range []string{"w", strings.Repeat("w", 128), "AZaz09-_"} {
		if _, err := New(id, key, fixed(nil)); err != nil {
			t.Errorf("New(%q) = %v, want the widget ID accepted", id, err)
		}
	}
}

// TestLoggedInPage checks the token in a page: it verifies with the public
// key and carries every claim, and the page is kept out of shared caches.
func TestLoggedInPage(t *testing.T) {
	m := newTest(t, fixed(alice), nil, WithIssuer("https://shop.example"), WithAudience("chat-vendor"), WithTTL(5*time.Minute))
	h := m.Handler(htmlHandler(page, "Cache-Control", "public, max-age=600", "Content-Length", fmt.Sprint(len(page)), "Etag", `"v1"`))
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()

	if n := strings.Count(body, "data-chatwidget"); n != 1 {
		t.Fatalf("page has %d snippets, want 1:\n%s", n, body)
	}
	if !strings.HasSuffix(body, "</script></body></html>") {
		t.Errorf("snippet is not right before </body>: %q", body)
	}
	claims := parseToken(t, tokenIn(t, body))
	want := map[string]any{
		"name": "Alice Example", "isLoggedIn": true, "email": "alice@example.com", "sub": "u-1001",
		"User ID": "u-1001", "Telephone": "+1 555 0100", "Orders": 3.0, "VIP": true,
		"iss": "https://shop.example", "aud": "chat-vendor",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %q = %#v, want %#v", k, claims[k], v)
		}
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if d := exp.Sub(iat.Time); d != 5*time.Minute {
		t.Errorf("exp - iat = %v, want 5m", d)
	}
	if len(claims) != len(want)+2 {
		t.Errorf("token has claims %v, want exactly %v plus iat and exp", claims, want)
	}

	h2 := rec.Header()
	if got := h2.Get("Cache-Control"); got != "private, max-age=300" {
		t.Errorf("Cache-Control = %q, want %q (max-age clamped to the token's 5m)", got, "private, max-age=300")
	}
	if got := h2.Values("Vary"); fmt.Sprint(got) != "[Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request, Turbo-Frame, Cookie]" {
		t.Errorf("Vary = %q, want the fetch metadata and Cookie", got)
	}
	for _, k := range []string{"Content-Length", "Etag"} {
		if h2.Get(k) != "" {
			t.Errorf("%s = %q, want it removed", k, h2.Get(k))
		}
	}
}

// TestHostileVisitorData checks that nothing a visitor controls can add an
// element to the page.
func TestHostileVisitorData(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--`
	v := &Visitor{Name: evil, Email: evil, Subject: evil, Fields: map[string]any{evil: evil, "x\"y": "</SCRIPT >"}}
	m := newTest(t, fixed(v), nil, WithNonce(func(*http.Request) string { return `"><script>alert(2)</script>` }))
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	got := scripts(t, body)
	if len(got) != 2 {
		t.Fatalf("page has %d script elements, want 2 (embed and customer data):\n%s", len(got), body)
	}
	if strings.Contains(body, "alert") {
		t.Fatalf("page carries hostile text outside the token: %s", body)
	}
	claims := parseToken(t, tokenIn(t, body))
	if claims["name"] != evil || claims[evil] != evil {
		t.Errorf("hostile values did not round-trip in the token: %v", claims)
	}
}

// TestAnonymous checks the page of a visitor the resolver does not know
// (nil, nil): the embed code alone, or nothing with WithAnonymousWidget(false);
// no signature and no log record, not even at debug level.
func TestAnonymous(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		wantScript bool
	}{
		{"widget for anonymous", nil, true},
		{"widget off for anonymous", []Option{WithAnonymousWidget(false)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			m := newTest(t, fixed(nil), nil, append(tc.opts, WithLogger(debugLogger(logs)))...)
			rec := serve(m.Handler(htmlHandler(page, "Cache-Control", "public, max-age=600")), httptest.NewRequest("GET", "/", nil))
			body := rec.Body.String()
			want := page
			if tc.wantScript {
				want = strings.Replace(page, "</body>", `<script data-chatwidget="" src="https://cdn.example/w/test-widget.js"></script></body>`, 1)
			}
			if body != want {
				t.Errorf("anonymous page = %q, want %q", body, want)
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=600" {
				t.Errorf("anonymous page Cache-Control = %q, want it untouched", got)
			}
			if n := m.Stats().TokensSigned; n != 0 {
				t.Errorf("%d tokens signed for an anonymous visitor, want none", n)
			}
			if logs.String() != "" {
				t.Errorf("log = %q, want nothing for an anonymous visitor", logs)
			}
		})
	}
}

// TestResolverFailures checks that a failing resolver gives the anonymous
// widget and one error record per WithLogInterval (a minute by default),
// with the error or the panic and the path, never a broken page; and that
// a visitor without a name is anonymous, with no record.
func TestResolverFailures(t *testing.T) {
	const failed = `msg="chatwidget: resolver failed; serving the page as anonymous"`
	tests := []struct {
		name    string
		r       ResolverFunc
		wantLog []string // what the one record holds; nil: no record
	}{
		{"error", func(*http.Request) (*Visitor, error) { return nil, errors.New("db down") }, []string{"level=ERROR", failed, "path=/account", `error="db down"`}},
		{"error with visitor", func(*http.Request) (*Visitor, error) { return alice, errors.New("partial") }, []string{"level=ERROR", failed, "error=partial"}},
		{"panic", func(*http.Request) (*Visitor, error) { panic("boom") },
			[]string{"level=ERROR", `msg="chatwidget: resolver panicked; serving the page as anonymous"`, "path=/account", "panic=boom"}},
		{"no name", func(*http.Request) (*Visitor, error) { return &Visitor{Email: "a@b"}, nil }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			m := newTest(t, tc.r, nil, WithLogger(debugLogger(logs)))
			for range 2 {
				rec := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/account", nil))
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<script data-chatwidget="" src="https://cdn.example/w/test-widget.js"></script></body>`) {
					t.Fatalf("got %d %q, want 200 with the anonymous widget", rec.Code, rec.Body)
				}
				if strings.Contains(rec.Body.String(), "done(") {
					t.Errorf("page carries customer data after a resolver failure: %s", rec.Body)
				}
			}
			got := logs.String()
			if tc.wantLog == nil {
				if got != "" {
					t.Errorf("log = %q, want nothing", got)
				}
				return
			}
			if n := strings.Count(got, "level="); n != 1 {
				t.Errorf("%d records for two failures within a minute, want 1: %q", n, got)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(got, w) {
					t.Errorf("log = %q, want it to hold %s", got, w)
				}
			}
		})
	}
}

// TestSignerFails checks a signer that fails (a KMS or an HSM away): the
// page gets the anonymous widget, the token endpoint {"loggedIn":false},
// never a 500.
func TestSignerFails(t *testing.T) {
	m, err := New("test-widget", KeySigner(failingSigner{testPublicKey(t)}), fixed(alice), WithLogger(discardLogger()),
		WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`))
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
	if want := strings.Replace(page, "</body>", `<script data-chatwidget="" src="https://cdn.example/w/test-widget.js"></script></body>`, 1); rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("page with a failing signer: %d %q, want 200 %q", rec.Code, rec.Body, want)
	}
	rec = serve(m.TokenHandler(), httptest.NewRequest("GET", "/chatwidget/token", nil))
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"loggedIn":false}` {
		t.Errorf("token endpoint with a failing signer: %d %s, want 200 {\"loggedIn\":false}", rec.Code, rec.Body)
	}
}

func TestResolverAbortPanics(t *testing.T) {
	m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { panic(http.ErrAbortHandler) }), nil)
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recover() = %v, want http.ErrAbortHandler to go on", p)
		}
	}()
	serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
}

// TestSkip checks that WithSkip steps aside for whole requests: the
// handler's page goes out as written, and the resolver is not asked; the
// middleware's own endpoints still answer.
func TestSkip(t *testing.T) {
	var calls atomic.Int32
	m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil,
		WithSkip(func(r *http.Request) bool {
			return r.Host == "admin.example" || strings.HasPrefix(r.URL.Path, "/admin/")
		}))
	h := m.Handler(htmlHandler(page))
	tests := []struct {
		name, url  string
		wantWidget bool
		wantCalls  int32
		wantJSON   bool // the middleware's token endpoint answers
	}{
		{"skipped path", "http://shop.example/admin/x", false, 0, false},
		{"skipped host", "http://admin.example/", false, 0, false},
		{"not skipped", "http://shop.example/shop", true, 1, false},
		{"own endpoint on a skipped host", "http://admin.example/chatwidget/token", false, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			rec := serve(h, httptest.NewRequest("GET", tc.url, nil))
			body := rec.Body.String()
			switch {
			case tc.wantJSON:
				if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || !strings.Contains(body, `"loggedIn":true`) {
					t.Errorf("GET %s = %q, want the token endpoint's answer", tc.url, body)
				}
			case tc.wantWidget:
				if !strings.Contains(body, "data-chatwidget") {
					t.Errorf("GET %s = %q, want the widget", tc.url, body)
				}
			case body != page:
				t.Errorf("GET %s = %q, want the page untouched", tc.url, body)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("GET %s: resolver called %d times, want %d", tc.url, n, tc.wantCalls)
			}
		})
	}
}

// TestNonce checks that both scripts carry the request's CSP nonce.
func TestNonce(t *testing.T) {
	type ctxKey struct{}
	m := newTest(t, fixed(alice), nil, WithNonce(func(r *http.Request) string {
		s, _ := r.Context().Value(ctxKey{}).(string)
		return s
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, "rAnd0m+/="))
	body := serve(m.Handler(htmlHandler(page)), req).Body.String()
	got := scripts(t, body)
	if len(got) != 2 {
		t.Fatalf("%d scripts, want 2: %s", len(got), body)
	}
	for i, s := range got {
		if s.attrs["nonce"] != "rAnd0m+/=" {
			t.Errorf("script %d nonce = %q, want rAnd0m+/=", i, s.attrs["nonce"])
		}
	}
	// No nonce in the context: no nonce attribute.
	body = serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	if strings.Contains(body, "nonce") {
		t.Errorf("page without a nonce has a nonce attribute: %s", body)
	}
}

// TestSnippetManualPlacement checks a template that places the widget
// itself: the middleware adds no second one, and still keeps the page out of
// shared caches.
func TestSnippetManualPlacement(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	tmpl := template.Must(template.New("p").Parse(`<html><body><h1>Shop</h1>{{.}}</body></html>`))
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		tmpl.Execute(w, m.Snippet(r))
	}))
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	if n := strings.Count(body, "data-chatwidget"); n != 1 {
		t.Fatalf("page has %d snippets, want 1: %s", n, body)
	}
	parseToken(t, tokenIn(t, body))
	if got := rec.Header().Get("Cache-Control"); got != "private, max-age=60" {
		t.Errorf("Cache-Control = %q, want private, max-age=60", got)
	}
	anon := newTest(t, fixed(nil), nil, WithAnonymousWidget(false))
	if s := anon.Snippet(httptest.NewRequest("GET", "/", nil)); s != "" {
		t.Errorf("Snippet for an anonymous visitor with the widget off = %q, want empty", s)
	}
}

// TestConcurrentVisitors serves many visitors at once; each page carries its
// own visitor's token, and the first requests for the same claims sign once.
func TestConcurrentVisitors(t *testing.T) {
	m := newTest(t, ResolverFunc(func(r *http.Request) (*Visitor, error) {
		u := r.URL.Query().Get("u")
		return &Visitor{Name: u, Fields: map[string]any{"User ID": u}}, nil
	}), nil)
	h := m.Handler(htmlHandler(page))
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := fmt.Sprintf("user%d", i%8)
			body := serve(h, httptest.NewRequest("GET", "/?u="+u, nil)).Body.String()
			claims := parseToken(t, tokenIn(t, body))
			if claims["name"] != u || claims["User ID"] != u {
				t.Errorf("page for %s carries %v", u, claims)
			}
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.TokenCacheEntries != 8 || st.TokensSigned != 8 {
		t.Errorf("cache holds %d tokens after %d signatures, want one per visitor (8)", st.TokenCacheEntries, st.TokensSigned)
	}
}

// TestFragmentsAreNotPages checks that requests for fragments and iframes,
// and responses with no document structure, get no widget.
func TestFragmentsAreNotPages(t *testing.T) {
	tests := []struct {
		name       string
		header     []string
		body       string
		wantWidget bool
	}{
		{"document", []string{"Sec-Fetch-Dest", "document"}, page, true},
		{"no fetch metadata", nil, page, true},
		{"iframe", []string{"Sec-Fetch-Dest", "iframe"}, page, false},
		{"fetch", []string{"Sec-Fetch-Dest", "empty"}, page, false},
		{"htmx", []string{"HX-Request", "true"}, page, false},
		{"htmx boosted", []string{"HX-Request", "true", "HX-Boosted", "true"}, page, false},
		{"turbo frame", []string{"Turbo-Frame", "cart"}, page, false},
		// Only a navigation has the destination "document": htmx and Turbo
		// fetch theirs, whose destination is "empty".
		{"navigation with a stray HX-Request", []string{"Sec-Fetch-Dest", "document", "HX-Request", "true"}, page, true},
		// A <link rel=prefetch> is kept for the navigation that follows.
		{"link prefetch", []string{"Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch"}, page, true},
		{"link prefetch, older Chromium", []string{"Sec-Fetch-Dest", "empty", "Purpose", "prefetch"}, page, true},
		{"prefetch with parameters", []string{"Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch;prerender"}, page, true},
		{"fetch with another purpose", []string{"Sec-Fetch-Dest", "empty", "Sec-Purpose", "preview"}, page, false},
		{"prefetched fragment", []string{"Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch"}, `<li class="item">new</li>`, false},
		{"prefetch by htmx", []string{"Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch", "HX-Request", "true"}, page, false},
		{"fragment body", nil, `<li class="item">new</li>`, false},
		{"fragment with </div>", nil, `<div>x</div>`, false},
		// A navigation's response is a document, whatever its first bytes.
		{"navigation to a page with no document structure", []string{"Sec-Fetch-Dest", "document"}, `<div>x</div>`, true},
		{"document without </body>", nil, "<!DOCTYPE html><title>t</title><p>x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil)
			req := httptest.NewRequest("GET", "/", nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			rec := serve(m.Handler(htmlHandler(tc.body, "Cache-Control", "public, max-age=60", "Content-Length", fmt.Sprint(len(tc.body)))), req)
			got := rec.Body.String()
			if !tc.wantWidget && (rec.Header().Get("Cache-Control") != "public, max-age=60" || rec.Header().Get("Content-Length") == "") {
				t.Errorf("headers of an untouched response changed: %v", rec.Header())
			}
			if has := strings.Contains(got, "data-chatwidget"); has != tc.wantWidget {
				t.Errorf("widget inserted = %v, want %v: %q", has, tc.wantWidget, got)
			}
			if !tc.wantWidget && calls.Load() != 0 {
				t.Errorf("resolver called for a response that gets no widget")
			}
			if !tc.wantWidget && got != tc.body {
				t.Errorf("body = %q, want it untouched: %q", got, tc.body)
			}
		})
	}
}
