// Echo shows chatwidget as echo middleware, e.Use(echo.WrapMiddleware(mw.Handler)),
// with writeErrors after it: WrapMiddleware returns a handler's error only
// once chatwidget has finished the response, too late for echo's error
// handler (a 404 would reach the client as an empty 200). The visitor comes
// from the gorilla/sessions session that POST /login fills in (any name: a
// demo). Run it in examples/frameworks: openssl genrsa -out private.pem 2048;
// go run ./echo
package main

import (
	"crypto/rand"
	"log"
	"net/http"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

// main serves the site on 127.0.0.1:8080.
func main() {
	e, err := newSite(chatwidget.KeyFile("private.pem"), []byte(rand.Text())) // sessions end at restart
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(e.Start("127.0.0.1:8080"))
}

// newSite returns the site, whose chatwidget signs with key.
func newSite(key chatwidget.Key, sessionKey []byte) (*echo.Echo, error) {
	store := sessions.NewCookieStore(sessionKey)
	mw, err := chatwidget.New("demo-widget", key,
		chatwidget.SessionResolver(store, "session", chatwidget.SessionKeys{Name: "name", Fields: map[string]string{"Plan": "plan"}}))
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.Use(echo.WrapMiddleware(mw.Handler), writeErrors)
	e.GET("/", func(c echo.Context) error {
		return c.HTML(http.StatusOK, `<!DOCTYPE html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<form method="post" action="/login"><input name="name"> <button>Log in</button></form></body></html>`)
	})
	e.POST("/login", func(c echo.Context) error {
		s, _ := store.Get(c.Request(), "session") // a new session if the cookie is stale
		s.Values["name"], s.Values["plan"] = c.FormValue("name"), "Pro"
		if err := s.Save(c.Request(), c.Response()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.GET("/api/orders", func(c echo.Context) error {
		return c.JSON(http.StatusOK, []map[string]any{{"id": 1, "item": "Teapot"}})
	})
	e.GET("/api/orders/:id", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no such order") })
	return e, nil
}

// writeErrors hands a handler's error to c.Error while chatwidget's writer is live.
func writeErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			c.Error(err)
		}
		return nil
	}
}
