// Structsession shows a gorilla/sessions session that holds the user as one
// struct (a gob-encoded *User under "user"), which SessionKeys cannot map:
// chatwidget.SessionResolverFunc hands the session to visitor. POST /login
// puts any name in the session (a demo). Run it in examples/frameworks:
// openssl genrsa -out private.pem 2048; go run ./structsession
package main

import (
	"crypto/rand"
	"encoding/gob"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
)

// A User is what the site keeps in its session.
type User struct{ ID, Username, Email string }

// main serves the site on 127.0.0.1:8080.
func main() {
	h, err := newSite(chatwidget.KeyFile("private.pem"), []byte(rand.Text())) // sessions end at restart
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newSite returns the site, whose chatwidget signs with key and takes opts.
func newSite(key chatwidget.Key, sessionKey []byte, opts ...chatwidget.Option) (http.Handler, error) {
	gob.Register(&User{}) // for gorilla/sessions to encode a *User
	store := sessions.NewCookieStore(sessionKey)
	mw, err := chatwidget.New("demo-widget", key, chatwidget.SessionResolverFunc(store, "session", visitor), opts...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<form method="post" action="/login"><input name="name"> <button>Log in</button></form></body></html>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session") // a new session if the cookie is stale
		s.Values["user"] = &User{ID: "u-1001", Username: r.PostFormValue("name"), Email: "user@example.com"}
		if err := s.Save(r, w); err != nil {
			http.Error(w, "cannot save the session", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /api/orders", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"item":"Teapot"}]`)
	})
	return mw.Handler(mux), nil
}

// visitor tells chatwidget who the user of session s is.
func visitor(_ *http.Request, s *sessions.Session) (*chatwidget.Visitor, error) {
	u, ok := s.Values["user"].(*User)
	if !ok {
		return nil, nil // anonymous
	}
	return &chatwidget.Visitor{Name: u.Username, Email: u.Email, Subject: u.ID, Fields: map[string]any{"User ID": u.ID}}, nil
}
