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

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// TestVisitors serves the page to visitors named by their cookie: each gets
// a token of their own, of about 1 KB, an unknown or missing cookie the
// anonymous widget, and /debug/stats counts the signatures.
func TestVisitors(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(modeInjected, key, 3)
	if err != nil {
		t.Fatal(err)
	}
	page := func(cookie string) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	seen := map[string]bool{}
	for _, c := range []string{"sid=0", "sid=1", "sid=2", "sid=1"} {
		body := page(c)
		i := strings.Index(body, `done("`)
		if i < 0 {
			t.Fatalf("%s: no token in the page", c)
		}
		tok := body[i+6 : i+6+strings.IndexByte(body[i+6:], '"')]
		if len(tok) < 800 || len(tok) > 1200 {
			t.Errorf("%s: token of %d bytes, want about 1 KB", c, len(tok))
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil }); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want := "u-00000" + strings.TrimPrefix(c, "sid=")
		if claims["sub"] != want {
			t.Errorf("%s: sub %v, want %s", c, claims["sub"], want)
		}
		seen[tok] = true
	}
	if len(seen) != 3 {
		t.Errorf("%d distinct tokens for 3 visitors", len(seen))
	}
	for _, c := range []string{"", "sid=3", "sid=-1", "sid=x"} {
		if body := page(c); strings.Contains(body, `done("`) || !strings.Contains(body, "data-chatwidget") {
			t.Errorf("cookie %q: want the anonymous widget", c)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/stats", nil))
	var st chatwidget.Stats
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.TokensSigned != 3 || st.TokenCacheHits != 1 || st.TokenCacheEntries != 3 {
		t.Errorf("stats %+v, want 3 signatures, 1 hit, 3 entries", st)
	}
}

// TestWarm runs the warm-up against a server and checks it loads every
// visitor once, and refuses a URL off loopback.
func TestWarm(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(modeInjected, key, 20)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var out bytes.Buffer
	if err := warm(srv.URL+"/", 20, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warmed 20 visitors") {
		t.Errorf("warm printed %q", out.String())
	}
	res, err := http.Get(srv.URL + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st chatwidget.Stats
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.TokensSigned != 20 || st.TokenCacheEntries != 20 {
		t.Errorf("stats after the warm-up %+v, want 20 signatures and entries", st)
	}
	for _, u := range []string{"http://192.0.2.1/", "https://127.0.0.1/", "http://localhost/"} {
		if err := warm(u, 1, &out); err == nil {
			t.Errorf("warm(%q) = nil, want an error", u)
		}
	}
}
