package chatwidget

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
)

// unwrapOnly is an outer middleware's writer that embeds the
// ResponseWriter and offers Unwrap, as Go 1.20+ recommends, but no Flush.
type unwrapOnly struct{ http.ResponseWriter }

func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestResponseControllerThroughUnwrap checks that a flush through
// http.ResponseController goes through the middleware, not around it, when
// an outer wrapper hides Flush behind Unwrap.
func TestResponseControllerThroughUnwrap(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=600")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			io.WriteString(w, page)
		})).ServeHTTP(unwrapOnly{w}, r)
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("Cache-Control = %q on a page with a token", cc)
	}
	if strings.Count(string(body), "data-chatwidget") != 1 || !strings.HasSuffix(string(body), "</body></html>") {
		t.Errorf("body = %q", body)
	}
}

// TestLogoutPageIsAnonymous checks that a page rendered by the request that
// deletes the session does not carry the old identity.
func TestLogoutPageIsAnonymous(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	m := newTest(t, SessionResolver(store, "sess", SessionKeys{Name: "name"}), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "sess")
		s.Options.MaxAge = -1
		s.Save(r, w)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	req := httptest.NewRequest("POST", "/logout", nil)
	req.AddCookie(sessionCookie(t, store, map[any]any{"name": "Alice"}))
	if body := serve(h, req).Body.String(); strings.Contains(body, "done(") {
		t.Errorf("logout page carries a token: %s", body)
	}
}

func TestCustomerDataNeedsToken(t *testing.T) {
	for _, tpl := range []string{`<script>Chat.identify("JWT_TOKNE")</script>`, ""} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithCustomerDataTemplate(tpl)); err == nil || !strings.Contains(err.Error(), "no JWT_TOKEN placeholder") {
			t.Errorf("WithCustomerDataTemplate(%q) = %v, want an error", tpl, err)
		}
	}
}

// TestXHTML checks that an XHTML page is left alone: the browser's XML
// parser would stop at the first byte of the snippet that is not
// well-formed XML (the refresh script's "<", an embed's bare attribute).
func TestXHTML(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	const body = `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>x</p></body></html>`
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xhtml+xml")
		io.WriteString(w, body)
	}))
	if got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); got != body {
		t.Errorf("XHTML %q → %q; want it untouched", body, got)
	}
}

// TestFieldsSizeLimit checks that a resolver returning a megabyte of custom
// data gets a token without custom fields, and a log record.
func TestFieldsSizeLimit(t *testing.T) {
	logs := &logBuffer{}
	big := &Visitor{Name: "Alice", Fields: map[string]any{"Notes": strings.Repeat("x", 1<<20), "Plan": "Pro"}}
	m := newTest(t, fixed(big), logs)
	rec := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
	if rec.Body.Len() > len(page)+2048 {
		t.Fatalf("page grew by %d bytes", rec.Body.Len()-len(page))
	}
	claims := parseToken(t, tokenIn(t, rec.Body.String()))
	if claims["name"] != "Alice" || claims["Plan"] != nil || claims["Notes"] != nil {
		t.Errorf("claims = %v, want Alice without custom fields", claims)
	}
	if !strings.Contains(logs.String(), "custom fields dropped: too large") {
		t.Errorf("log = %q", logs)
	}
	small := newTest(t, fixed(&Visitor{Name: "A", Fields: map[string]any{"Plan": "Pro"}}), nil, WithMaxFieldsSize(4))
	if tok, _, _ := small.TokenFor(&Visitor{Name: "A", Fields: map[string]any{"Plan": "Pro"}}); parseToken(t, tok)["Plan"] != nil {
		t.Errorf("WithMaxFieldsSize(4) kept a 7-byte field")
	}
}

// TestHeadersWaitForTheDecision checks that neither a Flush nor a late
// WriteHeader sends the headers while the middleware still holds the page.
func TestHeadersWaitForTheDecision(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	for name, h := range map[string]http.HandlerFunc{
		"flush before the document is known": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=86400")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<head><title>x</title></head>")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "<body><p>not found</p></body>")
		},
		"late WriteHeader": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=86400")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<head><title>x</title></head>")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<body><p>not found</p></body>")
		},
	} {
		srv := httptest.NewServer(m.Handler(h))
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		srv.Close()
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Cache-Control"), "private") || !strings.Contains(string(body), "data-chatwidget") {
			t.Errorf("%s: %d, Cache-Control %q, body %q", name, res.StatusCode, res.Header.Get("Cache-Control"), body)
		}
	}
}

// TestFlushErrorReported checks that ResponseController.Flush reports the
// inner writer's error through the middleware.
func TestFlushErrorReported(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	inner := &errFlusher{ResponseRecorder: httptest.NewRecorder()}
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: x\n\n")
		if err := http.NewResponseController(w).Flush(); err == nil {
			t.Errorf("Flush through the middleware = nil, want the inner writer's error")
		}
	})).ServeHTTP(inner, httptest.NewRequest("GET", "/", nil))
}

type errFlusher struct{ *httptest.ResponseRecorder }

func (e *errFlusher) FlushError() error { return io.ErrClosedPipe }
