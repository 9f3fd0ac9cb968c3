// Contextuser shows a site whose authentication middleware puts the user into
// the request's context (auth.go stands in for it): a ResolverFunc reads the
// user from there, so mw.Handler goes inside authenticate, where the context
// has the user. POST /login signs in any name (a demo). Run it in
// examples/frameworks: openssl genrsa -out private.pem 2048; go run ./contextuser
package main

import (
	"io"
	"log"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/securecookie"
)

// main serves the site on 127.0.0.1:8080.
func main() {
	h, err := newSite(chatwidget.KeyFile("private.pem"), securecookie.GenerateRandomKey(32)) // logins end at restart
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newSite returns the site, whose chatwidget signs with key; hashKey
// authenticates the login cookies.
func newSite(key chatwidget.Key, hashKey []byte) (http.Handler, error) {
	mw, err := chatwidget.New("demo-widget", key, chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		u, ok := r.Context().Value(userKey{}).(*User) // what authenticate put there
		if !ok {
			return nil, nil // anonymous
		}
		return &chatwidget.Visitor{Name: u.Name, Subject: u.ID, Fields: map[string]any{"User ID": u.ID}}, nil
	}))
	if err != nil {
		return nil, err
	}
	a := newAuth(hashKey)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<form method="post" action="/login"><input name="name"> <button>Log in</button></form></body></html>`)
	})
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("GET /api/orders", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"item":"Teapot"}]`)
	})
	return a.authenticate(mw.Handler(mux)), nil
}
