package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler serves the page in both modes: 200, text/html, about 30 KB,
// with the widget exactly once when injected and never when bare.
func TestHandler(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode    string
		widgets int
	}{
		{modeBare, 0},
		{modeInjected, 1},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			h, err := newHandler(tc.mode, key, 0)
			if err != nil {
				t.Fatalf("newHandler(%q): %v", tc.mode, err)
			}
			for i := range 2 { // the second request takes the cached token
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				body := rec.Body.Bytes()
				if rec.Code != http.StatusOK {
					t.Errorf("request %d: status %d, want 200", i, rec.Code)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("request %d: Content-Type %q, want text/html", i, ct)
				}
				if n := len(body); n < 25<<10 || n > 40<<10 {
					t.Errorf("request %d: body is %d bytes, want about 30 KB", i, n)
				}
				if n := bytes.Count(body, []byte("data-chatwidget")); n != tc.widgets {
					t.Errorf("request %d: %d data-chatwidget, want %d", i, n, tc.widgets)
				}
				if !bytes.HasSuffix(body, []byte("</body>\n</html>\n")) {
					t.Errorf("request %d: body ends %q, want </body></html>", i, body[max(0, len(body)-200):])
				}
			}
		})
	}
}

// TestNewHandlerBadMode checks that an unknown -mode is an error.
func TestNewHandlerBadMode(t *testing.T) {
	if _, err := newHandler("both", nil, 0); err == nil {
		t.Errorf(`newHandler("both") = nil error, want one`)
	}
}

// TestListenLoopback checks that only loopback addresses are accepted.
func TestListenLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"localhost:0", false},
		{"192.0.2.1:0", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			ln, err := listenLoopback(tc.addr)
			if err == nil {
				ln.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("listenLoopback(%q) error = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}

// BenchmarkHandler serves the page bare and injected in the same run, into a
// writer that discards the body, to compare them without the network and
// without wrk: the cost the middleware adds to each request.
func BenchmarkHandler(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{modeBare, modeInjected} {
		b.Run(mode, func(b *testing.B) {
			h, err := newHandler(mode, key, 0)
			if err != nil {
				b.Fatalf("newHandler(%q): %v", mode, err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &discard{header: http.Header{}}
			h.ServeHTTP(w, r) // sign the token once
			b.SetBytes(w.n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.header)
				w.n = 0
				h.ServeHTTP(w, r)
			}
		})
	}
}

// discard is an [http.ResponseWriter] that counts the body and drops it.
type discard struct {
	header http.Header
	n      int64
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) WriteHeader(int)     {}
func (d *discard) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}

// TestProducts serves the JSON catalogue in both modes: the same bytes,
// valid JSON of about 11 KB, no widget.
func TestProducts(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, mode := range []string{modeBare, modeInjected} {
		h, err := newHandler(mode, key, 0)
		if err != nil {
			t.Fatalf("newHandler(%q): %v", mode, err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/products.json", nil))
		body := rec.Body.Bytes()
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: status %d, Content-Type %q, want 200 application/json", mode, rec.Code, rec.Header().Get("Content-Type"))
		}
		if n := len(body); n < 10<<10 || n > 20<<10 || !json.Valid(body) {
			t.Errorf("%s: %d bytes, valid JSON %v, want about 11 KB of JSON", mode, n, json.Valid(body))
		}
		bodies = append(bodies, body)
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		t.Errorf("the injected server changed the JSON: %q, want %q", bodies[1], bodies[0])
	}
}
