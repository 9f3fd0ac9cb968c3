package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
)

// TestSite logs in to an scs session and navigates the site.
func TestSite(t *testing.T) {
	h, err := newSite(frameworktest.Key(), scs.New())
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{Name: "alice", Fields: map[string]any{"Plan": "Pro"}})
	login := url.Values{"name": {"alice"}}
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "logged in", Login: login, Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{alice}},
		{Name: "anonymous", Path: "/", Status: http.StatusOK, Checks: []frameworktest.Check{frameworktest.Anonymous}},
		{Name: "json untouched", Login: login, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json", []byte(`[{"id":1,"item":"Teapot"}]`))}},
	})
}

// TestLogout logs in, then out: the page after the logout, in the same
// browser, has no token.
func TestLogout(t *testing.T) {
	h, err := newSite(frameworktest.Key(), scs.New())
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	b := frameworktest.NewBrowser(t, frameworktest.Start(t, h))
	b.Login("/login", url.Values{"name": {"alice"}})
	res, body := b.Navigate("/")
	frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{Name: "alice", Fields: map[string]any{"Plan": "Pro"}})(t, res, body)
	if res, body := b.Post("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: status %d, want 303; body:\n%s", res.StatusCode, body)
	}
	res, body = b.Navigate("/")
	frameworktest.Anonymous(t, res, body)
}

// TestOutsideLoadAndSave checks what newSite's doc says of the other order:
// chatwidget outside LoadAndSave asks for a session that is not loaded yet,
// scs panics, and the page is anonymous with the panic logged as an error.
func TestOutsideLoadAndSave(t *testing.T) {
	var logs frameworktest.Logs
	sm := scs.New()
	mw, err := chatwidget.New("demo-widget", frameworktest.Key(), chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		return &chatwidget.Visitor{Name: sm.GetString(r.Context(), "name")}, nil
	}), chatwidget.WithLogger(logs.Logger(slog.LevelInfo)))
	if err != nil {
		t.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><body><h1>Shop</h1></body></html>")
	})
	res, body := frameworktest.NewBrowser(t, frameworktest.Start(t, mw.Handler(sm.LoadAndSave(page)))).Navigate("/")
	frameworktest.Anonymous(t, res, body)
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "scs: no session data in context") {
		t.Errorf("log = %q, want the resolver's panic as an error", got)
	}
}
