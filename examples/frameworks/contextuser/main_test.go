package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
)

// TestSite logs in, which sets the cookie that authenticate reads, and
// navigates the site.
func TestSite(t *testing.T) {
	h, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{
		Name: "alice", Subject: "u-1001", Fields: map[string]any{"User ID": "u-1001"}})
	login := url.Values{"name": {"alice"}}
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "logged in", Login: login, Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{alice}},
		{Name: "anonymous", Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{frameworktest.Anonymous}},
		{Name: "json untouched", Login: login, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json", []byte(`[{"id":1,"item":"Teapot"}]`))}},
	})
}

// TestForgedCookie sends an auth cookie that authenticate rejects: the
// context has no user, and the page is anonymous.
func TestForgedCookie(t *testing.T) {
	h, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	b := frameworktest.NewBrowser(t, frameworktest.Start(t, h))
	b.SetCookie(&http.Cookie{Name: "auth", Value: "alice"})
	res, body := b.Navigate("/")
	frameworktest.Anonymous(t, res, body)
}
