// Scs shows chatwidget with alexedwards/scs sessions: a ResolverFunc reads the
// session that LoadAndSave loads into the request's context, so mw.Handler
// goes inside LoadAndSave (outside it, scs panics: the page is anonymous and
// the panic logged). POST /login puts any name in the session (a demo). Run it
// in examples/frameworks: openssl genrsa -out private.pem 2048; go run ./scs
package main

import (
	"io"
	"log"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/chatwidget/chatwidget"
)

// main serves the site on 127.0.0.1:8080.
func main() {
	h, err := newSite(chatwidget.KeyFile("private.pem"), scs.New()) // in memory; scs has stores for Redis, SQL…
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newSite returns the site, whose chatwidget signs with key and reads sm.
func newSite(key chatwidget.Key, sm *scs.SessionManager) (http.Handler, error) {
	mw, err := chatwidget.New("demo-widget", key, chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		name := sm.GetString(r.Context(), "name")
		if name == "" {
			return nil, nil // anonymous
		}
		return &chatwidget.Visitor{Name: name, Fields: map[string]any{"Plan": sm.GetString(r.Context(), "plan")}}, nil
	}))
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
		if err := sm.RenewToken(r.Context()); err != nil { // a new session ID at login
			http.Error(w, "cannot renew the session", http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "name", r.PostFormValue("name"))
		sm.Put(r.Context(), "plan", "Pro")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, "cannot end the session", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /api/orders", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"item":"Teapot"}]`)
	})
	return sm.LoadAndSave(mw.Handler(mux)), nil
}
