package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
)

// sessionKey authenticates the test site's session cookies.
var sessionKey = []byte("0123456789abcdef0123456789abcdef")

// TestSite logs in, which stores a *User in the session, and navigates the
// site.
func TestSite(t *testing.T) {
	h, err := newSite(frameworktest.Key(), sessionKey)
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{
		Name: "alice", Email: "user@example.com", Subject: "u-1001", Fields: map[string]any{"User ID": "u-1001"}})
	login := url.Values{"name": {"alice"}}
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "logged in", Login: login, Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{alice}},
		{Name: "anonymous", Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{frameworktest.Anonymous}},
		{Name: "json untouched", Login: login, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json", []byte(`[{"id":1,"item":"Teapot"}]`))}},
	})
}

// TestStaleCookie sends session cookies that the site cannot decode: one
// signed with another session key (the state of every cookie after the key
// is rotated) and one tampered with. Each page is anonymous and leaves one
// debug record, no error: any visitor can send such a cookie. Logging in
// again replaces it.
func TestStaleCookie(t *testing.T) {
	other, err := newSite(frameworktest.Key(), []byte("another key, since rotated away."))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	ob := frameworktest.NewBrowser(t, frameworktest.Start(t, other))
	ob.Login("/login", url.Values{"name": {"alice"}})
	rotated := ob.Cookies()[0]

	var logs frameworktest.Logs
	h, err := newSite(frameworktest.Key(), sessionKey, chatwidget.WithLogger(logs.Logger(slog.LevelDebug)), chatwidget.WithLogInterval(0))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
	}{
		{"rotated key", rotated},
		{"tampered", &http.Cookie{Name: "session", Value: rotated.Value[:len(rotated.Value)-4] + "AAAA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := frameworktest.NewBrowser(t, srv)
			b.SetCookie(tc.cookie)
			before := len(logs.String())
			res, body := b.Navigate("/")
			frameworktest.Anonymous(t, res, body)
			got := logs.String()[before:]
			if strings.Count(got, "level=") != 1 || !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "cannot be decoded") {
				t.Errorf("log = %q, want one debug record of a cookie that cannot be decoded", got)
			}
			b.Login("/login", url.Values{"name": {"bob"}})
			res, body = b.Navigate("/")
			frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{
				Name: "bob", Email: "user@example.com", Subject: "u-1001", Fields: map[string]any{"User ID": "u-1001"}})(t, res, body)
		})
	}
}
