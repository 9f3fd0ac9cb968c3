package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
	"github.com/labstack/echo/v4"
)

// TestSite logs in through echo's POST /login and navigates the site, with
// chatwidget in echo's middleware chain as main serves it: pages get the
// widget, and echo's own responses (JSON, the error handler's)
// keep their status and body.
func TestSite(t *testing.T) {
	e, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, e)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{Name: "alice", Fields: map[string]any{"Plan": "Pro"}})
	login := url.Values{"name": {"alice"}}
	jsonError := func(msg string) frameworktest.Check {
		return frameworktest.Exactly("application/json", []byte(`{"message":"`+msg+`"}`+"\n"))
	}
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "c.HTML page logged in", Login: login, Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{alice, frameworktest.Contains("<h1>Shop</h1>")}},
		{Name: "c.HTML page anonymous", Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Anonymous}},
		{Name: "c.JSON untouched", Login: login, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json", []byte(`[{"id":1,"item":"Teapot"}]`+"\n"))}},
		{Name: "unknown route", Login: login, Path: "/nope", Status: http.StatusNotFound,
			Checks: []frameworktest.Check{jsonError("Not Found")}},
		{Name: "handler error", Login: login, Path: "/api/orders/9", Status: http.StatusNotFound,
			Checks: []frameworktest.Check{jsonError("no such order")}},
	})
}

// TestWrapMiddlewareAlone checks the reason for writeErrors: with
// echo.WrapMiddleware(mw.Handler) alone, echo's error handler writes after
// chatwidget has finished the response, and the 404 is lost. When this
// fails, echo or chatwidget keeps it now: writeErrors is no longer needed.
func TestWrapMiddlewareAlone(t *testing.T) {
	mw, err := chatwidget.New("demo-widget", frameworktest.Key(),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(echo.WrapMiddleware(mw.Handler))
	res, body := frameworktest.NewBrowser(t, frameworktest.Start(t, e)).Navigate("/nope")
	if res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Errorf("GET /nope: %d %q, want the empty 200 that makes writeErrors necessary", res.StatusCode, body)
	}
}
