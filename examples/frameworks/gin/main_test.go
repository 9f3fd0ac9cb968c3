package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
)

// TestSite logs in through gin's POST /login and navigates the site, wrapped
// in chatwidget as main serves it.
func TestSite(t *testing.T) {
	h, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{Name: "alice", Fields: map[string]any{"Plan": "Pro"}})
	login := url.Values{"name": {"alice"}}
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "c.HTML page logged in", Login: login, Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{alice, frameworktest.Contains("<h1>Shop</h1>")}},
		{Name: "c.HTML page anonymous", Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Anonymous}},
		{Name: "c.JSON untouched", Login: login, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json; charset=utf-8", []byte(`[{"id":1,"item":"Teapot"}]`))}},
		{Name: "gin's 404 untouched", Login: login, Path: "/nope", Status: http.StatusNotFound,
			Checks: []frameworktest.Check{frameworktest.Exactly("text/plain", []byte("404 page not found"))}},
	})
}

// TestEvents reads the event stream that gin's c.Stream writes, as an
// EventSource asks for it and as a client without fetch metadata (curl)
// does: both get the whole stream.
func TestEvents(t *testing.T) {
	h, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	want := "event:tick\ndata:0\n\nevent:tick\ndata:1\n\nevent:tick\ndata:2\n\n"
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"EventSource", http.Header{"Accept": {"text/event-stream"}, "Sec-Fetch-Dest": {"empty"}, "Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Site": {"same-origin"}}},
		{"no fetch metadata", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := frameworktest.NewBrowser(t, srv).Do(http.MethodGet, "/events", nil, tc.header)
			if res.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("GET /events: %d %q, want 200 %q", res.StatusCode, body, want)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/event-stream;charset=utf-8" {
				t.Errorf("Content-Type = %q, want gin's text/event-stream;charset=utf-8", ct)
			}
		})
	}
}
