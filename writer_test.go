package chatwidget

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// TestLateWriteIsInert checks that a handler (or a goroutine it started)
// that writes after returning reaches no other response: its writes fail,
// over a real server, whether the writer sits in the pool or serves the
// next request, and nothing panics.
func TestLateWriteIsInert(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	kept := make(chan http.ResponseWriter, 1)
	bobStarted, lateDone := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	first.Store(true)
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if first.CompareAndSwap(true, false) {
			io.WriteString(w, "<!DOCTYPE html><body>Alice</body>")
			kept <- w // a handler that lets a goroutine keep its writer
			return
		}
		io.WriteString(w, "<!DOCTYPE html><body>Bob ")
		close(bobStarted)
		<-lateDone
		io.WriteString(w, "page</body>")
	})))
	defer srv.Close()

	get := func() string {
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	get()
	alice := <-kept
	// In the pool, or wherever it is now.
	if n, err := io.WriteString(alice, "ALICE-LATE-1"); n != 0 || !errors.Is(err, errFinished) {
		t.Errorf("late Write = %d, %v; want 0, errFinished", n, err)
	}
	bob := make(chan string)
	go func() { bob <- get() }()
	<-bobStarted
	// While the pool may have handed the same writer to Bob's request.
	io.WriteString(alice, "ALICE-LATE-2")
	alice.WriteHeader(http.StatusTeapot)
	alice.Header().Set("X-Alice", "late")
	if f, ok := alice.(http.Flusher); ok {
		f.Flush()
	}
	if err := http.NewResponseController(alice).Flush(); err == nil {
		t.Error("late Flush through ResponseController reported no error")
	}
	if _, _, err := http.NewResponseController(alice).Hijack(); err == nil {
		t.Error("late Hijack reported no error")
	}
	close(lateDone)
	body := <-bob
	if strings.Contains(body, "ALICE") || !strings.Contains(body, "Bob page") {
		t.Errorf("Bob's page = %q: late bytes from Alice's handler crossed over, or Bob's are missing", body)
	}
}

// TestLateContentTypeKeepsBytes checks that a handler that writes under 512
// bytes, then sets a Content-Type, then writes the rest, loses no byte: as
// net/http does, the type is sniffed from the first bytes.
func TestLateContentTypeKeepsBytes(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	const head = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self' 'unsafe-inline' https://cdn.example">`
	const rest = `</head><body><p>x</p></body></html>`
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, head)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, rest)
	}))
	got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
	if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, "</body></html>") || !strings.Contains(got, "data-chatwidget") {
		t.Errorf("body = %q; want every byte of %q and %q, and the widget", got, head, rest)
	}
}

// TestHeaderRulesAnyCase checks that the header rules of a token page apply
// to headers a handler set by a key in any case, and to the cache headers
// of Akamai and nginx.
func TestHeaderRulesAnyCase(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"text/html; charset=utf-8"}
		hd["cache-control"] = []string{"public, max-age=600"}
		hd["etag"] = []string{`"v1"`}
		hd["last-modified"] = []string{"Mon, 01 Jan 2024 00:00:00 GMT"}
		hd["content-length"] = []string{"9999"}
		hd["Edge-Control"] = []string{"cache-maxage=1h"}
		hd["x-accel-expires"] = []string{"600"}
		hd["vary"] = []string{"Accept-Language"}
		io.WriteString(w, page)
	}))
	rec := serve(h, httptest.NewRequest("GET", "/", nil))
	for k, v := range rec.Header() {
		switch strings.ToLower(k) {
		case "cache-control":
			if len(v) != 1 || strings.Contains(v[0], "public") || !strings.HasPrefix(v[0], "private") {
				t.Errorf("%s = %q, want one private line", k, v)
			}
		case "etag", "last-modified", "content-length", "edge-control", "x-accel-expires":
			t.Errorf("%s = %q survived on a token page", k, v)
		case "vary":
			if k != "Vary" || !hasField(v, "Accept-Language") || !hasField(v, "Cookie") {
				t.Errorf("%s = %q, want one Vary with the handler's field and Cookie", k, v)
			}
		}
	}
}

// TestGuardHeadersAsBrowsersRead checks that the headers that keep the
// widget out of a response (a download, a compressed or partial body, a
// type that is not HTML) count as a browser reads them: under a key in any
// case (net/http sends h["content-disposition"] as it is, and browsers
// match names in any case), on every line, and a disposition whose type is
// anything but inline (Chromium downloads "inlinex" as an attachment).
// Otherwise a saved file keeps the token, or the snippet lands in a gzip
// stream or in a page shown as text.
func TestGuardHeadersAsBrowsersRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header // set over Content-Type: text/html; charset=utf-8
		widget bool
	}{
		{"download, key in lower case", http.Header{"content-disposition": {`attachment; filename="report.html"`}}, false},
		{"download, key in odd case", http.Header{"CONTENT-DISPOSITION": {"attachment"}}, false},
		{"unknown disposition type", http.Header{"Content-Disposition": {"inlinex; filename=report.html"}}, false},
		{"second disposition line", http.Header{"Content-Disposition": {"inline", "attachment"}}, false},
		{"inline", http.Header{"Content-Disposition": {`Inline; filename="page.html"`}}, true},
		{"gzip, key in lower case", http.Header{"content-encoding": {"gzip"}}, false},
		{"gzip on a second line", http.Header{"Content-Encoding": {"identity", "gzip"}}, false},
		{"identity", http.Header{"Content-Encoding": {"identity"}}, true},
		{"range, key in lower case", http.Header{"content-range": {"bytes 0-80/100"}}, false},
		{"type, key in lower case", http.Header{"content-type": {"text/plain"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				io.WriteString(w, page)
			}))
			for _, dest := range []string{"", "document"} {
				r := httptest.NewRequest("GET", "/", nil)
				if dest != "" {
					r.Header.Set("Sec-Fetch-Dest", dest)
				}
				body := serve(h, r).Body.String()
				if got := strings.Contains(body, "data-chatwidget"); got != tc.widget {
					t.Errorf("Sec-Fetch-Dest %q: widget = %v, want %v: %q", dest, got, tc.widget, body)
				}
				if !tc.widget && body != page {
					t.Errorf("Sec-Fetch-Dest %q: body = %q, want the page untouched", dest, body)
				}
			}
		})
	}
	// A sniffed page whose handler declared another type under a key in
	// lower case: net/http sends both lines.
	m := newTest(t, fixed(alice), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["content-type"] = []string{"text/plain"}
		io.WriteString(w, page)
	}))
	if body := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); body != page {
		t.Errorf("sniffed page with a lower-case text/plain: body = %q, want it untouched", body)
	}
}

// TestHeadersGoOutAtTheDecision checks that the headers of a page go out
// when the writer decides them, even if no byte of the body reaches the
// client with them (a navigation whose first write is a cut "</b", held
// back): a handler that changes them after its first write, which net/http
// would ignore, must not undo the token's private.
func TestHeadersGoOutAtTheDecision(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "</b")
		w.Header().Set("Cache-Control", "public, max-age=600") // too late, as net/http has it
		io.WriteString(w, "ody>")
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	res := serve(h, r).Result()
	body, _ := io.ReadAll(res.Body)
	if cc := res.Header.Get("Cache-Control"); strings.Contains(string(body), "done(") && !strings.HasPrefix(cc, "private") {
		t.Errorf("a page with a token went out with Cache-Control %q: %q", cc, body)
	}
}

// TestNavigationIsDocument checks that a navigation (Sec-Fetch-Dest:
// document) gets the widget whatever its first bytes, and that a Flush
// before any sign of a document reaches the client, headers included.
func TestNavigationIsDocument(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	license := "<!-- " + strings.Repeat("license text ", 500) + "-->\n"
	flushed, goOn := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, license)
		w.(http.Flusher).Flush()
		close(flushed)
		<-goOn
		io.WriteString(w, "<!DOCTYPE html><title>t</title><p>x</p></body>")
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	type result struct {
		res *http.Response
		err error
	}
	got := make(chan result, 1)
	go func() { res, err := http.DefaultClient.Do(req); got <- result{res, err} }() // returns once the headers arrived
	var res *http.Response
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		res = r.res
	case <-time.After(10 * time.Second):
		close(goOn)
		t.Fatal("the headers did not reach the client at the flush before any sign of a document")
	}
	defer res.Body.Close()
	<-flushed
	br := bufio.NewReader(res.Body)
	first := make([]byte, 5)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(br, first); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(first) != "<!-- " {
			t.Fatalf("first bytes after the flush = %q, %v", first, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flush before any sign of a document did not reach the client")
	}
	close(goOn)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data-chatwidget") {
		t.Errorf("a navigation whose doctype comes after %d bytes got no widget: %.80q…", len(license), rest)
	}
}

// TestVariantsVary checks that every variant of a page carries the page's
// Vary: the responses the middleware steps aside for (an iframe, a fetch,
// htmx and Turbo requests) pass through untouched apart from it, and cost
// no resolver call, while responses that no variant rewrites get nothing.
func TestVariantsVary(t *testing.T) {
	const vary = "Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request, Turbo-Frame, Cookie"
	tests := []struct {
		name     string
		header   []string // request headers, name then value
		h        http.Handler
		wantVary string
	}{
		{"fragment", nil, htmlHandler("<li>one</li><li>two</li>"), vary}, // a navigation to it gets the widget
		{"iframe", []string{"Sec-Fetch-Dest", "iframe"}, htmlHandler(page), vary},
		{"fetch", []string{"Sec-Fetch-Dest", "empty"}, htmlHandler(page), vary},
		{"htmx", []string{"Hx-Request", "true"}, htmlHandler("<li>x</li>"), vary},
		{"turbo frame", []string{"Turbo-Frame", "f"}, htmlHandler(page), vary},
		{"image destination", []string{"Sec-Fetch-Dest", "image"}, htmlHandler(page), vary},
		{"sniffed page", []string{"Sec-Fetch-Dest", "iframe"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, page)
		}), vary},
		{"json fetch", []string{"Sec-Fetch-Dest", "empty"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":"</body>"}`)
		}), ""},
		{"shift_jis page", []string{"Sec-Fetch-Dest", "iframe"}, htmlHandler(page, "Content-Type", "text/html; charset=shift_jis"), ""},
		{"compressed page", []string{"Sec-Fetch-Dest", "iframe"}, htmlHandler(page, "Content-Encoding", "gzip"), "Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request, Turbo-Frame, Cookie"},
		{"page in a coding it does not decode", []string{"Sec-Fetch-Dest", "iframe"}, htmlHandler(page, "Content-Encoding", "compress"), ""},
		{"handler's own vary", []string{"Sec-Fetch-Dest", "empty"}, htmlHandler(page, "Vary", "Accept-Language, Cookie"), "Accept-Language, Cookie, Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request, Turbo-Frame"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil)
			req := func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				for i := 0; i < len(tc.header); i += 2 {
					r.Header.Set(tc.header[i], tc.header[i+1])
				}
				return r
			}
			want := serve(tc.h, req())
			got := serve(m.Handler(tc.h), req())
			if got.Body.String() != want.Body.String() || got.Code != want.Code {
				t.Errorf("response = %d %q, want %d %q", got.Code, got.Body, want.Code, want.Body)
			}
			if v := strings.Join(got.Header().Values("Vary"), ", "); v != tc.wantVary {
				t.Errorf("Vary = %q, want %q", v, tc.wantVary)
			}
			got.Header().Del("Vary")
			want.Header().Del("Vary")
			if fmt.Sprint(got.Header()) != fmt.Sprint(want.Header()) {
				t.Errorf("header = %v, want %v (Vary aside)", got.Header(), want.Header())
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("resolver called %d times for a variant that gets no widget", n)
			}
		})
	}
}

// TestAnonymousPageVaries checks that a page left without the widget only
// because its visitor is anonymous still varies on the cookie: a shared
// cache must not serve it to a visitor who logs in.
func TestAnonymousPageVaries(t *testing.T) {
	m := newTest(t, fixed(nil), nil, WithAnonymousWidget(false))
	rec := serve(m.Handler(htmlHandler(page, "Cache-Control", "public, max-age=60")), httptest.NewRequest("GET", "/", nil))
	if rec.Body.String() != page {
		t.Errorf("body = %q, want the page untouched", rec.Body)
	}
	if v := rec.Header().Get("Vary"); !strings.Contains(v, "Cookie") {
		t.Errorf("Vary = %q, want Cookie among the fields", v)
	}
}

// TestHeadGetsPageHeaders checks that a HEAD response carries the headers
// the GET response would, widget rules included, and no widget in a body.
func TestHeadGetsPageHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Handler
		body string
	}{
		{"with a body", htmlHandler(page, "Cache-Control", "public, max-age=600", "Etag", `"v1"`, "Content-Length", fmt.Sprint(len(page))), page},
		{"without a body", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("Etag", `"v1"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil)
			// The GET of the page; a HEAD handler may or may not write it.
			get := serve(m.Handler(htmlHandler(page, "Cache-Control", "public, max-age=600", "Etag", `"v1"`, "Content-Length", fmt.Sprint(len(page)))), httptest.NewRequest("GET", "/", nil))
			head := serve(m.Handler(tc.h), httptest.NewRequest("HEAD", "/", nil))
			if head.Body.String() != tc.body {
				t.Errorf("HEAD body = %q, want %q", head.Body, tc.body)
			}
			for _, k := range []string{"Cache-Control", "Vary", "Etag", "Content-Length", "Content-Type"} {
				if g, h := strings.Join(get.Header().Values(k), ", "), strings.Join(head.Header().Values(k), ", "); g != h {
					t.Errorf("HEAD %s = %q, GET %s = %q", k, h, k, g)
				}
			}
			if cc := head.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
				t.Errorf("HEAD Cache-Control = %q, want private", cc)
			}
		})
	}
}

// TestSnippetHandsOutSafely checks where Snippet gives a token: nowhere the
// widget does not belong, and in a wrapped response only if its headers
// keep it out of shared caches, which Snippet sees to when called in time.
func TestSnippetHandsOutSafely(t *testing.T) {
	t.Run("stepped aside", func(t *testing.T) {
		m := newTest(t, fixed(alice), nil)
		for _, h := range [][2]string{{"Sec-Fetch-Dest", "empty"}, {"Sec-Fetch-Dest", "iframe"}, {"Hx-Request", "true"}, {"Turbo-Frame", "f"}} {
			var got template.HTML = "unset"
			rec := serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = m.Snippet(r)
				htmlHandler(page, "Cache-Control", "public, max-age=600").ServeHTTP(w, r)
			})), func() *http.Request { r := httptest.NewRequest("GET", "/", nil); r.Header.Set(h[0], h[1]); return r }())
			if got != "" || strings.Contains(rec.Body.String(), "done(") {
				t.Errorf("%s: %s: Snippet = %q, body %q; want nothing", h[0], h[1], got, rec.Body)
			}
		}
		r := httptest.NewRequest("HEAD", "/", nil)
		if got := m.Snippet(r); got != "" {
			t.Errorf("HEAD: Snippet = %q, want nothing", got)
		}
	})
	// WithSkip, or a Switch that picks no widget: nothing would keep the
	// token's page out of a shared cache.
	t.Run("skipped", func(t *testing.T) {
		m := newTest(t, fixed(alice), nil, WithSkip(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/docs/") }))
		page := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=600")
			io.WriteString(w, "<!DOCTYPE html><body>"+string(m.Snippet(r))+"</body>")
		}
		for _, tc := range []struct {
			name string
			h    http.Handler
		}{
			{"WithSkip", m.Handler(http.HandlerFunc(page))},
			{"Switch picks none", Switch(func(*http.Request) *Middleware { return nil })(http.HandlerFunc(page))},
		} {
			name, h := tc.name, tc.h
			rec := serve(h, httptest.NewRequest("GET", "/docs/a", nil))
			if strings.Contains(rec.Body.String(), "done(") {
				t.Errorf("%s: the page carries a token with Cache-Control %q: %q", name, rec.Header().Get("Cache-Control"), rec.Body)
			}
		}
		// A middleware outside that wraps the request still guards it.
		outer := newTest(t, fixed(alice), nil)
		rec := serve(outer.Handler(m.Handler(http.HandlerFunc(page))), httptest.NewRequest("GET", "/docs/a", nil))
		if !strings.Contains(rec.Body.String(), "done(") || !strings.HasPrefix(rec.Header().Get("Cache-Control"), "private") {
			t.Errorf("inside a middleware that wraps it: Cache-Control %q, body %q; want the token, private", rec.Header().Get("Cache-Control"), rec.Body)
		}
	})
	// A page whose first sign of a document comes after the hold-back
	// limit, from a client that sends no fetch metadata: the writer takes
	// it for a fragment, but the handler placed the widget itself.
	long := "<!-- " + strings.Repeat("license text ", 400) + " -->"
	t.Run("placed by hand in a late document", func(t *testing.T) {
		var calls atomic.Int32
		m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), nil)
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			snippet := m.Snippet(r)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=600")
			io.WriteString(w, long+"<!DOCTYPE html><html><body><p>hi</p>"+string(snippet)+"</body></html>")
		}))
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		if n := strings.Count(rec.Body.String(), "data-chatwidget"); n != 1 {
			t.Errorf("page has %d widgets, want 1", n)
		}
		parseToken(t, tokenIn(t, rec.Body.String()))
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "private") || strings.Contains(cc, "public") {
			t.Errorf("Cache-Control = %q, want private", cc)
		}
		if v := rec.Header().Get("Vary"); !strings.Contains(v, "Cookie") {
			t.Errorf("Vary = %q, want Cookie", v)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("resolver called %d times, want 1", n)
		}
	})
	// A Switch that picked one widget, and a handler that placed
	// another's, with a shorter TTL: the page stays in the browser's
	// cache no longer than the token it carries.
	t.Run("another middleware's token", func(t *testing.T) {
		short := newTest(t, fixed(alice), nil, WithTTL(time.Minute))
		long := newTest(t, fixed(alice), nil, WithTTL(time.Hour))
		h := Switch(func(*http.Request) *Middleware { return long })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			snippet := short.Snippet(r)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "max-age=3000")
			io.WriteString(w, "<!DOCTYPE html><body>"+string(snippet)+"</body>")
		}))
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		if cc := rec.Header().Get("Cache-Control"); cc != "private, max-age=60" && cc != "private, max-age=59" {
			t.Errorf("Cache-Control = %q, want private, max-age=60: the page carries a token of one minute", cc)
		}
	})
	t.Run("too late", func(t *testing.T) {
		var logs logBuffer
		m := newTest(t, fixed(alice), &logs)
		var got template.HTML = "unset"
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "public, max-age=600")
			io.WriteString(w, "plain text first, ")
			got = m.Snippet(r)
			io.WriteString(w, string(got))
		}))
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		if got != "" || rec.Header().Get("Cache-Control") != "public, max-age=600" {
			t.Errorf("Snippet = %q with Cache-Control %q; want nothing", got, rec.Header().Get("Cache-Control"))
		}
		if !strings.Contains(logs.String(), "Snippet was called after the response's headers went out") {
			t.Errorf("log = %q, want a warning", logs.String())
		}
	})
	t.Run("in time for a response that is no page", func(t *testing.T) {
		m := newTest(t, fixed(alice), nil)
		var got template.HTML
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = m.Snippet(r)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "public, max-age=600")
			io.WriteString(w, string(got))
		}))
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		if !strings.Contains(string(got), "done(") || !strings.HasPrefix(rec.Header().Get("Cache-Control"), "private") {
			t.Errorf("Snippet = %q with Cache-Control %q; want the token, private", got, rec.Header().Get("Cache-Control"))
		}
	})
	t.Run("without the middleware", func(t *testing.T) {
		m := newTest(t, fixed(alice), nil)
		if got := m.Snippet(httptest.NewRequest("GET", "/", nil)); !strings.Contains(string(got), "done(") {
			t.Errorf("Snippet = %q, want the token (the site's headers are its own)", got)
		}
	})
}

// TestPanicKillsHandle checks that after a handler panics, the writer it
// had is inert: a goroutine that kept it writes nowhere, whatever a
// recoverer outside the middleware then does.
func TestPanicKillsHandle(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	var kept http.ResponseWriter
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = w
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><body>half")
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic", p)
			}
		}()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	}()
	if _, err := io.WriteString(kept, "late</body>"); !errors.Is(err, errFinished) {
		t.Errorf("write after the panic = %v, want errFinished", err)
	}
	if strings.Contains(rec.Body.String(), "late") {
		t.Errorf("late bytes reached the response: %q", rec.Body)
	}

	// A panic while the middleware ends the response: a resolver that
	// aborts the handler (http.ErrAbortHandler goes on), called for a small
	// page with no charset, decided only then. The handle dies all the
	// same, and its lock is not left held.
	m = newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { panic(http.ErrAbortHandler) }), nil)
	h = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = w
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><body>x</body>")
	}))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	done := make(chan error, 1)
	go func() { _, err := io.WriteString(kept, "late"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errFinished) {
			t.Errorf("write after a panic in the end of the response = %v, want errFinished", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write after a panic in the end of the response hangs: the writer's lock was left held")
	}
}

// TestStragglerStaysInItsResponse checks that a call a goroutine made on
// the handler's writer before the handler returned, and that is still
// under way when it returns (here a navigation's first write, waiting on a
// slow resolver), ends in its own response: the writer goes back to the
// pool only after it, and never carries the goroutine's bytes, or the
// token it was about to insert, into the next visitor's page. One P, so
// that the pool hands the next request the writer the last one released.
func TestStragglerStaysInItsResponse(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 10 {
		inResolver, bobWrote, gDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
		m := newTest(t, ResolverFunc(func(r *http.Request) (*Visitor, error) {
			if r.URL.Path != "/alice" {
				return nil, nil
			}
			close(inResolver)
			<-bobWrote // a session store that takes its time
			return alice, nil
		}), nil)
		srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if r.URL.Path == "/alice" {
				go func() { // renders the page, while the handler does not wait for it
					defer close(gDone)
					io.WriteString(w, "<!DOCTYPE html><body>ALICE</body>")
				}()
				<-inResolver
				return
			}
			io.WriteString(w, "<!DOCTYPE html><body>bob")
			close(bobWrote)
			<-gDone
			io.WriteString(w, "</body></html>")
		})))
		get := func(path string) string {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Sec-Fetch-Dest", "document")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err.Error()
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return string(b)
		}
		aliceDone := make(chan string, 1)
		go func() { aliceDone <- get("/alice") }()
		<-inResolver
		select {
		case <-aliceDone: // the writer went back to the pool with the goroutine inside
		case <-time.After(100 * time.Millisecond): // Alice's response waits for the goroutine's write
		}
		bob := get("/bob")
		if strings.Contains(bob, "ALICE") || strings.Contains(bob, "done(") {
			t.Fatalf("Bob's page = %q: the bytes and token of Alice's straggling write crossed over", bob)
		}
		if a := <-aliceDone; !strings.Contains(a, "ALICE") {
			t.Errorf("Alice's page = %q, want the write that began before her handler returned", a)
		}
		srv.Close()
	}
}

// TestEncodings serves pages in many encodings, declared and undeclared,
// and checks that only those a browser reads as the scanner does get the
// widget, that the others keep their bytes and headers and cost no
// resolver call, and that a page without a charset gets charset=utf-8.
func TestEncodings(t *testing.T) {
	const body = "<!DOCTYPE html><html><head></head><body><p>x</p></body></html>"
	utf16 := "\xff\xfe" + strings.Join(strings.Split(body, ""), "\x00") + "\x00"
	tests := []struct {
		name    string
		types   []string // Content-Type lines; nil: none (sniffed)
		body    string
		widget  bool
		wantCT  string // the Content-Type the browser gets
		refused bool
	}{
		{"utf-8", []string{"text/html; charset=utf-8"}, body, true, "text/html; charset=utf-8", false},
		{"no charset", []string{"text/html"}, body, true, "text/html; charset=utf-8", false},
		{"no charset, meta utf-8", []string{"text/html"}, `<meta charset="utf-8">` + body, true, "text/html; charset=utf-8", false},
		{"sniffed", nil, body, true, "text/html; charset=utf-8", false},
		{"windows-1252", []string{"text/html; charset=windows-1252"}, body, true, "text/html; charset=windows-1252", false},
		{"latin1", []string{"text/html;charset=ISO-8859-1"}, body, true, "text/html;charset=ISO-8859-1", false},
		{"iso-2022-jp", []string{"text/html; charset=iso-2022-jp"}, body, false, "text/html; charset=iso-2022-jp", true},
		{"shift_jis", []string{"text/html; charset=Shift_JIS"}, body, false, "text/html; charset=Shift_JIS", true},
		{"utf-16 declared", []string{"text/html; charset=utf-16le"}, utf16, false, "text/html; charset=utf-16le", true},
		{"no charset, meta iso-2022-jp", []string{"text/html"}, `<meta charset=iso-2022-jp>` + body, false, "text/html", true},
		{"no charset, meta windows-1252", []string{"text/html"}, `<meta charset=windows-1252>` + body, false, "text/html", true},
		{"utf-16 bom, declared utf-8", []string{"text/html; charset=utf-8"}, utf16, false, "text/html; charset=utf-8", true},
		{"utf-8 bom, declared latin1", []string{"text/html; charset=iso-8859-1"}, "\xef\xbb\xbf" + body, true, "text/html; charset=iso-8859-1", false},
		{"last line wins", []string{"text/html; charset=utf-8", "text/html; charset=iso-2022-jp"}, body, false, "text/html; charset=utf-8, text/html; charset=iso-2022-jp", true},
		{"a second value Chromium reads otherwise", []string{"text/html", "text/html (x); charset=iso-2022-jp"}, body, false, "text/html, text/html (x); charset=iso-2022-jp", true},
		{"last value wins", []string{"text/html; charset=utf-8, text/html;charset=iso-2022-jp"}, body, false, "text/html; charset=utf-8, text/html;charset=iso-2022-jp", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			resolver := ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil })
			m := newTest(t, resolver, nil)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.types != nil {
					w.Header()["Content-Type"] = tc.types
				}
				for i := 0; i < len(tc.body); i += 7 { // in small writes: the prescan must gather them
					w.Write([]byte(tc.body[i:min(i+7, len(tc.body))]))
				}
			}))
			rec := serve(h, httptest.NewRequest("GET", "/", nil))
			got := rec.Body.String()
			if has := strings.Contains(got, "data-chatwidget"); has != tc.widget {
				t.Fatalf("widget = %v, want %v: %.120q", has, tc.widget, got)
			}
			if !tc.widget {
				if got != tc.body {
					t.Errorf("body = %.80q, want it untouched", got)
				}
				if calls.Load() != 0 {
					t.Errorf("resolver called %d times for a page that gets no widget", calls.Load())
				}
			}
			if ct := strings.Join(rec.Header()["Content-Type"], ", "); ct != tc.wantCT {
				t.Errorf("Content-Type = %q, want %q", ct, tc.wantCT)
			}
			if n := m.Stats().PagesRefused; n != map[bool]uint64{true: 1}[tc.refused] {
				t.Errorf("Stats().PagesRefused = %d, want refused %v", n, tc.refused)
			}
		})
	}
}

// TestASCIISnippetOnly checks that a page in a single-byte encoding gets
// the widget only when the snippet is ASCII.
func TestASCIISnippetOnly(t *testing.T) {
	m := newTest(t, fixed(alice), nil, WithCustomerDataTemplate(`<script>/* Café */ chat("JWT_TOKEN")</script>`))
	h := m.Handler(htmlHandler(page, "Content-Type", "text/html; charset=windows-1252"))
	if got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); got != page {
		t.Errorf("windows-1252 page with a non-ASCII snippet = %.120q, want it untouched", got)
	}
	h = m.Handler(htmlHandler(page))
	if got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); !strings.Contains(got, "Café") {
		t.Errorf("UTF-8 page = %.120q, want the widget", got)
	}
}

// TestRefusedLoggedAndCounted checks that a page the scanner cannot follow
// gets no widget, one debug record and a count, and that its resolver is
// not called when that is known before the page is known to be a
// document.
func TestRefusedLoggedAndCounted(t *testing.T) {
	logs := &logBuffer{}
	var calls atomic.Int32
	resolver := ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil })
	m, err := New("test-widget", KeyPEM(testKeyPEM(t)), resolver,
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`))
	if err != nil {
		t.Fatal(err)
	}
	const frameset = `<frameset><xmp><frame src='https://evil.example/?</xmp></body>'>`
	const svg = `<!DOCTYPE html><body><svg><style><a title="</style></body>">`
	for _, body := range []string{frameset, svg} {
		rec := serve(m.Handler(htmlHandler(body)), httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != body {
			t.Errorf("%q → %q, want it untouched", body, rec.Body.String())
		}
	}
	if n := m.Stats().PagesRefused; n != 2 {
		t.Errorf("Stats().PagesRefused = %d, want 2", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("resolver called %d times, want once (for the page with a doctype)", n)
	}
	if st := m.Stats().Refused; st != (RefusedPages{Placement: 1, PageEnd: 1}) {
		t.Errorf("Stats().Refused = %+v, want one page for placement and one for its end", st)
	}
	// The frameset is markup a visitor could put in a page: debug. The
	// page that ends inside foreign content is the site's to fix: a
	// warning that says how.
	if n := strings.Count(logs.String(), "level=DEBUG"); n != 1 || !strings.Contains(logs.String(), `reason="a frameset"`) {
		t.Errorf("logs = %q, want one debug record for the frameset, with the reason", logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "end the page's template with </body></html>") {
		t.Errorf("logs = %q, want one warning for the page's end, naming the fix", logs.String())
	}
	if strings.Contains(logs.String(), "evil.example") {
		t.Errorf("logs hold page content: %q", logs.String())
	}
}

// rfRecorder is a ResponseRecorder with io.ReaderFrom, as net/http's
// writer has it.
type rfRecorder struct{ *httptest.ResponseRecorder }

func (r rfRecorder) ReadFrom(src io.Reader) (int64, error) { return io.Copy(r.ResponseRecorder, src) }

// TestRandomWriterCalls writes pages through the middleware with random
// interleavings of writes of random sizes, ReadFrom from a source that
// gives a byte at a time, Flush, and a Content-Type set before, after the
// first write or never, for each kind of request: the body is the bare
// handler's with the widget taken out (no byte lost, duplicated or
// reordered), a body with a token is private and varies on the cookie, and
// every variant of a page carries the same Vary.
func TestRandomWriterCalls(t *testing.T) {
	pages := []string{
		page,
		"<p>fragment</p>",
		"<!DOCTYPE html><html><head><title>x</title></head><body>" + strings.Repeat("<p>abc</p>", 700) + "</body></html>",
		"<!-- " + strings.Repeat("x", 5000) + " --><!DOCTYPE html><body>late</body>",
		"plain text </body> here",
		"<!DOCTYPE html><body><p>no end",
	}
	withoutWidget := func(s string) string {
		if i := strings.Index(s, "<script data-chatwidget"); i >= 0 {
			j := strings.LastIndex(s, "</script>")
			return s[:i] + s[j+len("</script>"):]
		}
		return s
	}
	dests := []string{"", "document", "empty", "iframe"}
	rng := rand.New(rand.NewSource(1))
	m := newTest(t, fixed(alice), nil)
	for iter := range 400 {
		pg, seed, ctAt := pages[rng.Intn(len(pages))], rng.Int63(), rng.Intn(4)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rr := rand.New(rand.NewSource(seed))
			switch ctAt {
			case 0:
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
			case 1:
				w.Header().Set("Content-Type", "text/html")
			}
			for rest := pg; rest != ""; {
				switch rr.Intn(5) {
				case 0:
					w.(http.Flusher).Flush()
				case 1:
					n := 1 + rr.Intn(len(rest))
					io.Copy(w, iotest.OneByteReader(strings.NewReader(rest[:n])))
					rest = rest[n:]
				default:
					n := 1 + rr.Intn(min(len(rest), 700))
					io.WriteString(w, rest[:n])
					rest = rest[n:]
				}
				if ctAt == 2 {
					w.Header().Set("Content-Type", "text/html; charset=utf-8") // late: the type is sniffed
				}
			}
		})
		var varies []string
		for _, dest := range dests {
			req := func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				if dest != "" {
					r.Header.Set("Sec-Fetch-Dest", dest)
				}
				return r
			}
			bare, got := httptest.NewRecorder(), httptest.NewRecorder()
			h.ServeHTTP(rfRecorder{bare}, req())
			m.Handler(h).ServeHTTP(rfRecorder{got}, req())
			res := got.Result()
			body := got.Body.String()
			if withoutWidget(body) != bare.Body.String() {
				t.Fatalf("iteration %d, Sec-Fetch-Dest %q: body = %q, want the bare %q with a widget at most", iter, dest, body, bare.Body)
			}
			if strings.Contains(body, "done(") && (!strings.HasPrefix(res.Header.Get("Cache-Control"), "private") || !strings.Contains(res.Header.Get("Vary"), "Cookie")) {
				t.Fatalf("iteration %d, Sec-Fetch-Dest %q: a token with Cache-Control %q, Vary %q", iter, dest, res.Header.Get("Cache-Control"), res.Header.Get("Vary"))
			}
			varies = append(varies, res.Header.Get("Vary"))
		}
		for i, v := range varies {
			if v != varies[0] {
				t.Fatalf("iteration %d: Vary %q for Sec-Fetch-Dest %q, %q for %q", iter, v, dests[i], varies[0], dests[0])
			}
		}
	}
}

// TestRandomSnippetCalls calls Snippet, Disable, Flush and WriteHeader
// among the writes and header changes of a handler that says its pages
// are public, in random orders, for GET and HEAD, navigations and fetches:
// whatever the order, a response that carries a token is private, has no
// ETag and varies on the cookie.
func TestRandomSnippetCalls(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	m := newTest(t, fixed(alice), nil)
	for range 5000 {
		seed := rng.Int63()
		dest := []string{"", "document", "empty"}[rng.Intn(3)]
		method := []string{"GET", "GET", "HEAD"}[rng.Intn(3)]
		var calls []string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rr := rand.New(rand.NewSource(seed))
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("Etag", `"x"`)
			for range 8 {
				switch op := rr.Intn(11); op {
				case 0:
					calls = append(calls, "type html")
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
				case 1:
					calls = append(calls, "type text")
					w.Header().Set("Content-Type", "text/plain")
				case 2:
					calls = append(calls, "no type")
					w.Header().Del("Content-Type")
				case 3:
					calls = append(calls, "Snippet")
					io.WriteString(w, string(m.Snippet(r)))
				case 4:
					calls = append(calls, "doctype")
					io.WriteString(w, "<!DOCTYPE html><body>")
				case 5:
					calls = append(calls, "</body>")
					io.WriteString(w, "</body>")
				case 6:
					calls = append(calls, "text")
					io.WriteString(w, strings.Repeat("x", rr.Intn(600)))
				case 7:
					calls = append(calls, "Flush")
					w.(http.Flusher).Flush()
				case 8:
					calls = append(calls, "Disable")
					Disable(w)
				case 9:
					code := []int{200, 404, 304, 206, 500}[rr.Intn(5)]
					calls = append(calls, fmt.Sprint(code))
					w.WriteHeader(code)
				case 10:
					calls = append(calls, "public")
					w.Header().Set("Cache-Control", "public, max-age=600")
				}
			}
		})
		r := httptest.NewRequest(method, "/", nil)
		if dest != "" {
			r.Header.Set("Sec-Fetch-Dest", dest)
		}
		rec := httptest.NewRecorder()
		m.Handler(h).ServeHTTP(rec, r)
		res := rec.Result() // the headers as they went out
		if body := rec.Body.String(); strings.Contains(body, "done(") {
			cc := res.Header.Get("Cache-Control")
			if !strings.HasPrefix(cc, "private") || strings.Contains(cc, "public") || res.Header.Get("Etag") != "" || !strings.Contains(res.Header.Get("Vary"), "Cookie") {
				t.Fatalf("%s, Sec-Fetch-Dest %q, %s: a token went out with Cache-Control %q, ETag %q, Vary %q", method, dest, strings.Join(calls, ", "), cc, res.Header.Get("Etag"), res.Header.Get("Vary"))
			}
		}
	}
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

// lockProbe is an inner writer's ReadFrom that records whether the
// middleware's writer is locked while it runs.
type lockProbe struct {
	w    io.Writer
	cw   **responseWriter
	held *bool
}

func (p lockProbe) ReadFrom(src io.Reader) (int64, error) {
	if *p.held = !(*p.cw).mu.TryLock(); !*p.held {
		(*p.cw).mu.Unlock()
	}
	return io.Copy(p.w, src)
}

// TestReadFromHoldsLock checks that ReadFrom passed through to the inner
// writer (sendfile) runs under the writer's lock, as every other call
// through the handler's writer does: a goroutine's ReadFrom that began
// before the handler returned ends before the writer ends the response
// and goes back to the pool. With a declared type and with one sniffed.
func TestReadFromHoldsLock(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	for _, ct := range []string{"application/octet-stream", ""} {
		t.Run("Content-Type "+ct, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var cw *responseWriter
			var held bool
			inner := struct {
				http.ResponseWriter
				io.ReaderFrom
			}{rec, lockProbe{struct{ io.Writer }{rec}, &cw, &held}}
			data := bytes.Repeat([]byte{0, 1, 2, 3}, 1000)
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if ct != "" {
					w.Header().Set("Content-Type", ct)
				}
				cw = w.(locker).lock()
				cw.mu.Unlock()
				if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
					t.Error(err)
				}
			})).ServeHTTP(inner, httptest.NewRequest("GET", "/f", nil))
			if !held {
				t.Error("the inner writer's ReadFrom ran with the writer unlocked")
			}
			if !bytes.Equal(rec.Body.Bytes(), data) {
				t.Errorf("body = %d bytes, want the %d written", rec.Body.Len(), len(data))
			}
		})
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

// TestHeadersWaitForTheDecision checks that neither a Flush nor a late
// WriteHeader sends the headers while the middleware still holds the page.
func TestHeadersWaitForTheDecision(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"flush before the document is known", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=86400")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<head><title>x</title></head>")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "<body><p>not found</p></body>")
		}},
		{"late WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=86400")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<head><title>x</title></head>")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<body><p>not found</p></body>")
		}},
	} {
		name, h := tc.name, tc.h
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

// TestSnippetFollowsHeaderCSP checks that Snippet gives the widget the
// nonce of the CSP header the handler set before asking, whatever the
// key's case, and nothing when no nonce would let it run.
func TestSnippetFollowsHeaderCSP(t *testing.T) {
	for _, tc := range []struct {
		name, key, policy string
		want              string // the nonce both scripts must carry; "" for no widget
	}{
		{"nonce", "Content-Security-Policy", "script-src 'nonce-abc123' 'strict-dynamic'", "abc123"},
		{"lower-case key", "content-security-policy", "default-src 'none'; script-src 'nonce-abc123'", "abc123"},
		{"hashes only", "Content-Security-Policy", "script-src 'sha256-AAAA'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			m := newTest(t, fixed(alice), &logs)
			var got template.HTML
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()[tc.key] = []string{tc.policy}
				got = m.Snippet(r)
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, "<!DOCTYPE html><body>"+string(got)+"</body>")
			}))
			body := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
			if tc.want == "" {
				if got != "" || strings.Contains(body, "done(") {
					t.Errorf("Snippet = %q, body %q; want nothing", got, body)
				}
				if !strings.Contains(logs.String(), "Content-Security-Policy lets no nonce") {
					t.Errorf("log = %q, want a warning", logs.String())
				}
				return
			}
			if n := strings.Count(string(got), `nonce="`+tc.want+`"`); n != 2 {
				t.Errorf("Snippet = %q: %d scripts with nonce %q, want 2", got, n, tc.want)
			}
		})
	}
}
