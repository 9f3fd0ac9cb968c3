package chatwidget

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
)

// TestLongEndTagNames checks that end tags whose names begin like body or
// html but are longer are released at once: Flush reaches the client and the
// widget goes before the real </body>.
func TestLongEndTagNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body>")
	for range 200 {
		b.WriteString("<header-navigation-bar><a href=/>Home</a></header-navigation-bar><button-group-primary>x</button-group-primary>\n")
	}
	b.WriteString("</body></html>")
	page := b.String()
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	for i := 0; i < len(page); i += 512 {
		j.Write([]byte(page[i:min(i+512, len(page))]))
		j.Flush()
		if held := min(i+512, len(page)) - out.Len(); held > len("</body></html>") && out.Len() < len(page)-20 {
			t.Fatalf("after %d bytes and a flush, %d bytes are held", min(i+512, len(page)), held)
		}
	}
	j.Close()
	if want := strings.Replace(page, "</body>", testSnippet+"</body>", 1); out.String() != want {
		t.Fatalf("widget not right before </body>: at %d of %d", strings.Index(out.String(), testSnippet), len(page))
	}
}

// TestMaxHoldLimitsIgnoreWriteBoundaries checks that the documented limits
// give the same output whether the page comes in one write or in many.
func TestMaxHoldLimitsIgnoreWriteBoundaries(t *testing.T) {
	filler := strings.Repeat("<i>x</i>", maxHold/8+4)
	pages := []string{
		"<html></html>" + filler + "</body>",                      // </body> too long after </html>
		"<html></html><p></body>",                                 // </body> soon after </html>
		filler + "<!DOCTYPE html><p>x",                            // a document sign past maxHold: a fragment
		"<p>" + strings.Repeat("x", maxHold-20) + "<html></body>", // a sign just within maxHold
		"<body></body a='" + filler + "'>",                        // a long </body> tag
	}
	for _, p := range pages {
		for _, pending := range []bool{false, true} {
			one := run(p, pending, len(p))
			for _, size := range []int{1, 7, 100, 4096} {
				if got := run(p, pending, size); got != one {
					t.Errorf("pending=%v, page %.40q…: writes of %d give %.60q…, one write gives %.60q…", pending, p, size, got, one)
				}
			}
		}
	}
}

// run feeds page to an injector in writes of size and returns the output.
func run(page string, pending bool, size int) string {
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	if pending {
		j.resetPending(&out, &recordingDecider{snippet: []byte(testSnippet)}, encUTF8)
	}
	for i := 0; i < len(page); i += size {
		j.Write([]byte(page[i:min(i+size, len(page))]))
	}
	j.Close()
	return out.String()
}

// TestHoldStaysBounded writes a 1 MiB fragment and a 1 MiB tail after
// </html> in single writes: nothing of them is copied into the hold buffer.
func TestHoldStaysBounded(t *testing.T) {
	big := bytes.Repeat([]byte("<li>x</li>"), 1<<17)
	for name, page := range map[string][]byte{
		"fragment":   big,
		"after html": append([]byte("<html><body>x</html>"), big...),
	} {
		for _, pending := range []bool{false, true} {
			j := newInjector(io.Discard, []byte(testSnippet))
			if pending {
				j.resetPending(io.Discard, &recordingDecider{snippet: []byte(testSnippet)}, encUTF8)
			}
			j.Write(page)
			if c := cap(j.hold); c > maxHold {
				t.Errorf("%s, pending=%v: hold buffer grew to %d bytes", name, pending, c)
			}
		}
	}
}

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
