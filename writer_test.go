package chatwidget

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
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
	const head = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self'">`
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
