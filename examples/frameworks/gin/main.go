// Gin shows chatwidget with a gin engine: mw.Handler wraps the engine in the
// http.Server (gin's "custom HTTP configuration"). engine.Use would need an
// adapter type that implements all of gin.ResponseWriter over chatwidget's
// writer, since c.Writer must be one; outside the engine, chatwidget sees each
// page as gin writes it, 404s included. The visitor comes from the
// gorilla/sessions session that POST /login fills in (any name: a demo). Run
// it in examples/frameworks: openssl genrsa -out private.pem 2048; go run ./gin
package main

import (
	"crypto/rand"
	"html/template"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
)

// main serves the site on 127.0.0.1:8080.
func main() {
	h, err := newSite(chatwidget.KeyFile("private.pem"), []byte(rand.Text())) // sessions end at restart
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newSite returns the engine wrapped in chatwidget, which signs with key and
// reads the session that sessionKey authenticates.
func newSite(key chatwidget.Key, sessionKey []byte) (http.Handler, error) {
	store := sessions.NewCookieStore(sessionKey)
	mw, err := chatwidget.New("demo-widget", key,
		chatwidget.SessionResolver(store, "session", chatwidget.SessionKeys{Name: "name", Fields: map[string]string{"Plan": "plan"}}))
	if err != nil {
		return nil, err
	}
	r := gin.Default()
	r.SetHTMLTemplate(template.Must(template.New("home").Parse(`<!DOCTYPE html><html><head><title>Shop</title></head>
<body><h1>Shop</h1><form method="post" action="/login"><input name="name"> <button>Log in</button></form></body></html>`)))
	r.GET("/", func(c *gin.Context) { c.HTML(http.StatusOK, "home", nil) })
	r.POST("/login", func(c *gin.Context) {
		s, _ := store.Get(c.Request, "session") // a new session if the cookie is stale
		s.Values["name"], s.Values["plan"] = c.PostForm("name"), "Pro"
		if err := s.Save(c.Request, c.Writer); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	r.GET("/api/orders", func(c *gin.Context) { c.JSON(http.StatusOK, []gin.H{{"id": 1, "item": "Teapot"}}) })
	r.GET("/events", func(c *gin.Context) {
		n := 0
		c.Stream(func(io.Writer) bool { c.SSEvent("tick", n); n++; return n < 3 })
	})
	return mw.Handler(r.Handler()), nil
}
