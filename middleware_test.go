package chatwidget

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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

// TestTokenVerifiesWithOpenSSL checks the signature with openssl, an
// implementation that is not ours.
func TestTokenVerifiesWithOpenSSL(t *testing.T) {
	needOpenSSL(t)
	m := newTest(t, fixed(alice), nil)
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	token := tokenIn(t, body)
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "input"), []byte(token[:dot]), 0o600)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o600)
	pub, _ := filepath.Abs("testdata/public.pem")
	out := openssl(t, dir, "dgst", "-sha256", "-verify", pub, "-signature", "sig", "input")
	if !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl says %q, want Verified OK", out)
	}
	// A token for someone else's signing input must not verify.
	os.WriteFile(filepath.Join(dir, "input"), []byte(token[:dot]+"x"), 0o600)
	cmd := openSSLCommand(t, dir, "dgst", "-sha256", "-verify", pub, "-signature", "sig", "input")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a tampered input: %s", out)
	}
}

func TestReservedFieldsDropped(t *testing.T) {
	logs := &logBuffer{}
	v := &Visitor{Name: "Mallory", Fields: map[string]any{
		"name": "Admin", "isLoggedIn": false, "email": "x@evil", "exp": 9999999999, "iss": "evil",
		"aud": "x", "sub": "root", "nbf": 1, "iat": 1, "jti": "j", "Plan": "Free", "Big": json.Number("12345678901234567891"),
		"Bad": []string{"no"}, "": "empty",
	}}
	m := newTest(t, fixed(v), logs)
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	claims := parseToken(t, tokenIn(t, body))
	if claims["name"] != "Mallory" || claims["isLoggedIn"] != true || claims["Plan"] != "Free" || claims["Big"] != 12345678901234567891.0 {
		t.Errorf("claims = %v; a custom field won over a reserved claim, or Plan is missing", claims)
	}
	for _, k := range []string{"email", "iss", "aud", "sub", "nbf", "jti", "Bad", ""} {
		if _, ok := claims[k]; ok {
			t.Errorf("claim %q = %v, want it dropped", k, claims[k])
		}
	}
	for _, k := range []string{`reserved="[aud email exp iat isLoggedIn iss jti name nbf sub]"`, `unsupported=[Bad]`, "reserved claim"} {
		if !strings.Contains(logs.String(), k) {
			t.Errorf("log does not mention %q:\n%s", k, logs)
		}
	}
	if n := strings.Count(logs.String(), "level="); n != 1 {
		t.Errorf("%d log records, want one for all the dropped fields:\n%s", n, logs)
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

// TestPassThrough checks that every response that is not an HTML page with a
// body passes through byte for byte, without calling the resolver.
func TestPassThrough(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR</body>")
	tests := []struct {
		name   string
		method string
		h      http.HandlerFunc
		body   string
	}{
		{"json", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"html":"</body>"}`)
		}, `{"html":"</body>"}`},
		{"sniffed image", "GET", func(w http.ResponseWriter, r *http.Request) { w.Write(png) }, string(png)},
		{"sniffed text", "GET", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain </body> text") }, "plain </body> text"},
		{"event stream", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: </body>\n\n")
		}, "data: </body>\n\n"},
		{"html in a coding it does not decode", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "compress")
			io.WriteString(w, "\x1f\x9d</body>")
		}, "\x1f\x9d</body>"},
		{"html in two layers", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip, br")
			io.WriteString(w, "\x1f\x8b</body>")
		}, "\x1f\x8b</body>"},
		{"partial content", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Range", "bytes 0-6/100")
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, "</body>")
		}, "</body>"},
		{"redirect", "GET", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "<a href=\"/elsewhere\">Found</a>.\n\n"},
		{"no content", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNoContent)
		}, ""},
		{"not modified", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotModified)
		}, ""},
		{"html without body", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
		}, ""},
		{"disabled", "GET", func(w http.ResponseWriter, r *http.Request) {
			Disable(w)
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, page)
		}, page},
		{"html download", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Disposition", `attachment; filename="page.html"`)
			io.WriteString(w, page)
		}, page},
		{"explicitly no type", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, page)
		}, page},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil)
			want := serve(tc.h, httptest.NewRequest(tc.method, "/", nil))
			got := serve(m.Handler(tc.h), httptest.NewRequest(tc.method, "/", nil))
			if got.Body.String() != tc.body || got.Body.String() != want.Body.String() {
				t.Errorf("body = %q, want %q", got.Body, want.Body)
			}
			if got.Code != want.Code {
				t.Errorf("status = %d, want %d", got.Code, want.Code)
			}
			if fmt.Sprint(got.Header()) != fmt.Sprint(want.Header()) {
				t.Errorf("header = %v, want %v", got.Header(), want.Header())
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("resolver called %d times for a response that gets no widget", n)
			}
		})
	}
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

// TestSniffedHTML checks a handler that sets no Content-Type and writes its
// page in small pieces: the type is sniffed from the first 512 bytes, as
// net/http would.
func TestSniffedHTML(t *testing.T) {
	long := "<!DOCTYPE html><html><body>" + strings.Repeat("<p>x</p>", 200) + "</body></html>"
	for _, size := range []int{1, 7, 511, 512, 513, len(long)} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(long); i += size {
				io.WriteString(w, long[i:min(i+size, len(long))])
			}
		})
		m := newTest(t, fixed(nil), nil)
		rec := serve(m.Handler(h), httptest.NewRequest("GET", "/", nil))
		want := strings.Replace(long, "</body>", `<script data-chatwidget="" src="https://cdn.example/w/test-widget.js"></script></body>`, 1)
		if rec.Body.String() != want {
			t.Errorf("writes of %d: body = %.80q…, want %.80q…", size, rec.Body, want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("writes of %d: Content-Type = %q, want the sniffed text/html; charset=utf-8", size, ct)
		}
	}
}

// TestEveryWriteSplit writes a page through the middleware byte by byte and
// at every split of </body>.
func TestEveryWriteSplit(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	want := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	at := strings.Index(page, "</body>")
	for cut := at - 1; cut <= at+len("</body>")+1; cut++ {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, page[:cut])
			w.(http.Flusher).Flush()
			io.WriteString(w, page[cut:])
		})
		if got := serve(m.Handler(h), httptest.NewRequest("GET", "/", nil)).Body.String(); got != want {
			t.Errorf("cut at %d: body = %q, want %q", cut, got, want)
		}
	}
	bytewise := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := range len(page) {
			w.Write([]byte{page[i]})
		}
	})
	if got := serve(m.Handler(bytewise), httptest.NewRequest("GET", "/", nil)).Body.String(); got != want {
		t.Errorf("byte by byte: body = %q, want %q", got, want)
	}
}

// TestStreaming checks, over a real connection, that what a handler writes
// and flushes reaches the client before the handler goes on.
func TestStreaming(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	proceed := make(chan struct{})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body><p>first</p></bo")
		http.NewResponseController(w).Flush()
		<-proceed
		io.WriteString(w, "dy></html>")
	})))
	defer srv.Close()
	defer close(proceed)
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	first := make([]byte, len("<html><body><p>first</p>"))
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatalf("reading the flushed part: %v", err)
	}
	if string(first) != "<html><body><p>first</p>" {
		t.Fatalf("flushed part = %q", first)
	}
	proceed <- struct{}{}
	rest, _ := io.ReadAll(br)
	if !strings.HasPrefix(string(rest), "<script data-chatwidget") || !strings.HasSuffix(string(rest), "</script></body></html>") {
		t.Fatalf("rest = %q, want the snippet then </body></html>", rest)
	}
}

// recorder is an http.ResponseWriter with a chosen set of optional
// interfaces, for the interface tests.
type recorder struct {
	*httptest.ResponseRecorder
	readFrom int
}

type flushRec struct{ r *recorder }

func (f flushRec) Flush() { f.r.Flush() }

type hijackRec struct{ r *recorder }

func (hijackRec) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errors.New("test") }

type readFromRec struct{ r *recorder }

func (r readFromRec) ReadFrom(src io.Reader) (int64, error) {
	r.r.readFrom++
	return io.Copy(struct{ io.Writer }{r.r.ResponseRecorder}, src)
}

// TestReadFrom checks that a static file passes through the inner
// ReaderFrom (sendfile), and that an HTML file goes through the rewriter.
func TestReadFrom(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data.bin"), bytes.Repeat([]byte("</body>\x00"), 1000), 0o600)
	os.WriteFile(filepath.Join(dir, "page.html"), []byte(page), 0o600)
	m := newTest(t, fixed(nil), nil)
	h := m.Handler(http.FileServer(http.Dir(dir)))
	for _, tc := range []struct {
		path         string
		wantReadFrom bool
		wantWidget   bool
	}{
		{"/data.bin", true, false},
		{"/page.html", false, true},
	} {
		rec := &recorder{ResponseRecorder: httptest.NewRecorder()}
		inner := struct {
			flushRec
			readFromRec
			http.ResponseWriter
		}{flushRec{rec}, readFromRec{rec}, rec}
		h.ServeHTTP(inner, httptest.NewRequest("GET", tc.path, nil))
		if (rec.readFrom > 0) != tc.wantReadFrom {
			t.Errorf("%s: inner ReadFrom called %d times, want %v", tc.path, rec.readFrom, tc.wantReadFrom)
		}
		if got := strings.Contains(rec.Body.String(), "data-chatwidget"); got != tc.wantWidget {
			t.Errorf("%s: widget inserted = %v, want %v", tc.path, got, tc.wantWidget)
		}
		if tc.wantWidget && rec.Header().Get("Content-Length") != "" {
			t.Errorf("%s: Content-Length %q kept on a rewritten page", tc.path, rec.Header().Get("Content-Length"))
		}
	}
}

// TestHijack checks that a hijacked connection (a websocket) is the
// handler's alone.
func TestHijack(t *testing.T) {
	var calls atomic.Int32
	m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil)
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n<body></body>")
		brw.Flush()
		if _, err := w.Write([]byte("late")); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after Hijack = %v, want http.ErrHijacked", err)
		}
	})))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	got, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(got), "\r\n\r\n<body></body>") {
		t.Errorf("hijacked stream = %q, want it untouched", got)
	}
	if calls.Load() != 0 {
		t.Errorf("resolver called for a hijacked connection")
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

func TestCustomTemplates(t *testing.T) {
	m := newTest(t, fixed(alice), nil,
		WithEmbedTemplate(`<script>(function(d,s){s=d.createElement("script");s.src="https://v.example/WIDGET_ID/l.js";d.head.appendChild(s)})(document)</script>`),
		WithCustomerDataTemplate(`<script>Vendor.identify("WIDGET_ID", "JWT_TOKEN"); var t2 = 'JWT_TOKEN';</script>`),
		WithNonce(func(*http.Request) string { return "abc" }))
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	got := scripts(t, body)
	if len(got) != 2 {
		t.Fatalf("%d scripts, want 2: %s", len(got), body)
	}
	if !strings.Contains(got[0].text, `"https://v.example/test-widget/l.js"`) {
		t.Errorf("embed = %q, want WIDGET_ID replaced", got[0].text)
	}
	if _, ok := got[0].attrs["data-chatwidget"]; !ok || got[0].attrs["nonce"] != "abc" || got[1].attrs["nonce"] != "abc" {
		t.Errorf("script attributes = %v, %v; want the marker on the first and the nonce on both", got[0].attrs, got[1].attrs)
	}
	if strings.Contains(body, "JWT_TOKEN") || strings.Count(got[1].text, `test-widget`) != 1 {
		t.Errorf("customer data = %q, want every placeholder replaced", got[1].text)
	}
	i := strings.Index(got[1].text, `", "`) + 4
	parseToken(t, got[1].text[i:i+strings.IndexByte(got[1].text[i:], '"')])
}

// TestTokenCache checks that a visitor's token is reused while half its TTL
// remains, then renewed, and that different visitors get different tokens.
func TestTokenCache(t *testing.T) {
	m := newTest(t, fixed(nil), nil, WithTTL(10*time.Minute))
	now := time.Unix(1_800_000_000, 0)
	m.signer.now = func() time.Time { return now }
	tok := func(v *Visitor) string {
		s, err := m.signer.token(v)
		if err != nil {
			t.Fatal(err)
		}
		return s.token
	}
	first := tok(alice)
	if tok(alice) != first {
		t.Errorf("second token for the same visitor was signed again")
	}
	bob := &Visitor{Name: "Bob", Fields: map[string]any{"User ID": "u-2"}}
	if tok(bob) == first {
		t.Errorf("bob got alice's token")
	}
	copyOfAlice := *alice
	copyOfAlice.Fields = map[string]any{"User ID": "u-1001", "Telephone": "+1 555 0100", "Orders": 3, "VIP": false}
	if tok(&copyOfAlice) == first {
		t.Errorf("a visitor whose field differs got the cached token")
	}
	now = now.Add(4*time.Minute + 59*time.Second)
	if tok(alice) != first {
		t.Errorf("token renewed before half its TTL passed")
	}
	now = now.Add(2 * time.Second)
	if tok(alice) == first {
		t.Errorf("token reused after half its TTL passed")
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

// TestFlushBeforeWrite checks a streaming page that flushes its headers
// before any body.
func TestFlushBeforeWrite(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "public")
		w.(http.Flusher).Flush()
		io.WriteString(w, page)
	}))
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed || !strings.Contains(rec.Body.String(), "data-chatwidget") {
		t.Fatalf("flushed=%v body=%q; want a flushed page with the widget", rec.Flushed, rec.Body)
	}
	if rec.Header().Get("Cache-Control") != "private" {
		t.Errorf("Cache-Control = %q, want private", rec.Header().Get("Cache-Control"))
	}
}

func TestMakePrivate(t *testing.T) {
	tests := []struct {
		header   []string
		wantCC   string
		wantVary []string
		gone     []string
	}{
		{nil, "private", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "public, max-age=600"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=60, s-maxage=600", "Cache-Control", "public", "Vary", "Accept-Encoding"}, "private, max-age=60", []string{"Accept-Encoding", "Cookie"}, nil},
		{[]string{"Cache-Control", "no-store", "Vary", "cookie"}, "private, no-store", []string{"cookie"}, nil},
		{[]string{"Cache-Control", "private, max-age=0", "Vary", "*"}, "private, max-age=0", []string{"*"}, nil},
		{[]string{"Cache-Control", "PUBLIC,S-MAXAGE=5"}, "private", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", `private="Set-Cookie", max-age=600`}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=bogus, proxy-revalidate"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=60, stale-while-revalidate=86400, stale-if-error=604800, immutable"}, "private, max-age=60", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=-5"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cdn-Cache-Control", "max-age=600", "Cloudflare-Cdn-Cache-Control", "max-age=600", "Surrogate-Control", "max-age=600"}, "private", []string{"Cookie"},
			[]string{"Cdn-Cache-Control", "Cloudflare-Cdn-Cache-Control", "Surrogate-Control"}},
		{[]string{"Etag", `W/"v1"`, "Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT", "Expires", "Tue, 03 Jan 2006 15:04:05 GMT"}, "private", []string{"Cookie"},
			[]string{"Etag", "Last-Modified", "Expires"}},
	}
	for _, tc := range tests {
		h := http.Header{}
		for i := 0; i+1 < len(tc.header); i += 2 {
			h.Add(tc.header[i], tc.header[i+1])
		}
		makePrivate(h, 300)
		if got := h.Get("Cache-Control"); got != tc.wantCC {
			t.Errorf("makePrivate(%q) Cache-Control = %q, want %q", tc.header, got, tc.wantCC)
		}
		if got := h.Values("Vary"); fmt.Sprint(got) != fmt.Sprint(tc.wantVary) {
			t.Errorf("makePrivate(%q) Vary = %q, want %q", tc.header, got, tc.wantVary)
		}
		for _, k := range tc.gone {
			if h.Get(k) != "" {
				t.Errorf("makePrivate(%q) kept %s", tc.header, k)
			}
		}
	}
}

func TestIsHTML(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html", true}, {"text/html; charset=utf-8", true}, {"TEXT/HTML", true},
		{" text/html ;charset=utf-8", true}, {"\ttext/html\t", true}, {"\r\ntext/html\r\n", true},
		{"application/xhtml+xml", false}, // left alone: see TestXHTML
		{"text/htmlx", false}, {"text/plain", false}, {"", false}, {"application/json", false},
		{"text/html-sandboxed", false}, {"text/ html", false}, {"text/html x", false},
		// Only HTTP white space is trimmed, as browsers do: Chromium shows
		// "text/html\v" as text and downloads "text/html\u00a0".
		{"text/html\v", false}, {"text/html\u00a0", false}, {"\u0085text/html", false}, {"text/html\f", false},
	}
	for _, tc := range tests {
		if got := isHTML(tc.ct); got != tc.want {
			t.Errorf("isHTML(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}

// TestExtractMIME checks that the type and charset of a response are read
// from all its Content-Type values, as browsers read them: the last value
// that parses wins, commas split values outside quotes, and a later value
// of the same type without a charset keeps the earlier one's.
func TestExtractMIME(t *testing.T) {
	tests := []struct {
		values           []string
		essence, charset string
		mixed            bool // left alone: the values disagree, or one names a charset not accepted
	}{
		{[]string{"text/html; charset=utf-8"}, "text/html", "utf-8", false},
		{[]string{"text/html; charset=utf-8", "text/html; charset=iso-2022-jp"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/html; charset=utf-8, text/html; charset=iso-2022-jp"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/html; charset=iso-2022-jp", "text/html"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/plain; charset=iso-2022-jp", "text/html"}, "text/html", "", true},
		{[]string{"text/html", "*/*"}, "text/html", "", true},
		{[]string{"text/html", "garbage"}, "text/html", "", true},
		{[]string{`text/html; a="x,y"; charset="utf-8"`}, "text/html", "utf-8", false},
		{[]string{"text/html;charset=;charset=utf-8"}, "text/html", "utf-8", false},
		{[]string{"text/html; CHARSET=Shift_JIS"}, "text/html", "Shift_JIS", true},
		{[]string{"application/json", "text/html"}, "text/html", "", true},
		{[]string{"text/html", "application/json"}, "application/json", "", true},
		{[]string{"text/html; charset=utf-8", "text/html; charset=utf-8"}, "text/html", "utf-8", false},
		// Chromium reads these otherwise than the standard: left alone.
		{[]string{"text/html", "text/html (x); charset=iso-2022-jp"}, "text/html", "", true},
		{[]string{"text/html; charset=utf-8, text/html(x); charset=iso-2022-jp"}, "text/html", "utf-8", true},
		{[]string{"text/html", "application/xhtml+xml (x)"}, "text/html", "", true},
		{[]string{"text/html; charset=utf-8; charset=iso-2022-jp"}, "text/html", "utf-8", true},
	}
	for _, tc := range tests {
		ct := extractMIME(tc.values)
		if !ct.ok || !strings.EqualFold(ct.essence, tc.essence) || ct.charset != tc.charset || ct.mixed != tc.mixed {
			t.Errorf("extractMIME(%q) = %q, %q, mixed %v; want %q, %q, mixed %v", tc.values, ct.essence, ct.charset, ct.mixed, tc.essence, tc.charset, tc.mixed)
		}
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

// TestAnonymousTemplate checks the code that tells a widget nobody is
// logged in now.
func TestAnonymousTemplate(t *testing.T) {
	tpl := WithAnonymousTemplate(`<script>Chat.reset("WIDGET_ID")</script>`)
	nonce := WithNonce(func(*http.Request) string { return "n0nce" })
	anon := newTest(t, fixed(nil), nil, tpl, nonce)
	body := serve(anon.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	want := `<script data-chatwidget="" nonce="n0nce" src="https://cdn.example/w/test-widget.js"></script><script nonce="n0nce">Chat.reset("test-widget")</script></body>`
	if !strings.Contains(body, want) {
		t.Errorf("anonymous page = %q, want it to contain %q", body, want)
	}
	in := newTest(t, fixed(alice), nil, tpl)
	if body := serve(in.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String(); strings.Contains(body, "reset") {
		t.Errorf("logged-in page carries the anonymous code: %q", body)
	}
	if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithAnonymousTemplate(`<script>x("JWT_TOKEN")</script>`)); err == nil || !strings.Contains(err.Error(), "anonymous template holds JWT_TOKEN") {
		t.Errorf("New with JWT_TOKEN in the anonymous template = %v, want an error", err)
	}
}

// TestAddVary checks that addVary adds only the fields not yet named, in
// any case and across several Vary values, and nothing after "*".
func TestAddVary(t *testing.T) {
	fields := []string{"Sec-Fetch-Dest", "Cookie"}
	tests := []struct {
		have, want []string
	}{
		{nil, []string{"Sec-Fetch-Dest, Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Sec-Fetch-Dest, Cookie"}},
		{[]string{"accept-encoding, COOKIE"}, []string{"accept-encoding, COOKIE", "Sec-Fetch-Dest"}},
		{[]string{"Origin", " sec-fetch-dest ,cookie"}, []string{"Origin", " sec-fetch-dest ,cookie"}},
		{[]string{"Origin, *"}, []string{"Origin, *"}},
		{[]string{",,"}, []string{",,", "Sec-Fetch-Dest, Cookie"}},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.have != nil {
			h["Vary"] = slices.Clone(tc.have)
		}
		addVary(h, fields...)
		if got := h["Vary"]; !slices.Equal(got, tc.want) {
			t.Errorf("addVary(Vary: %q) = %q, want %q", tc.have, got, tc.want)
		}
	}
}
