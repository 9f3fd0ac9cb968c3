// Templ shows the widget placed by hand in a templ component: page (in
// page.templ) renders mw.Snippet(r) with templ.Raw before its footer. The mux
// is still wrapped in mw.Handler, which finds the snippet's <script
// data-chatwidget>, inserts nothing more, and keeps the page out of shared
// caches. The visitor comes from the gorilla/sessions session that POST /login
// fills in (any name: a demo). Run it in examples/frameworks: openssl genrsa
// -out private.pem 2048; go run ./templ
package main

//go:generate go tool templ generate

import (
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/chatwidget/chatwidget"
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

// newSite returns the site, wrapped in chatwidget, which signs with key.
func newSite(key chatwidget.Key, sessionKey []byte) (http.Handler, error) {
	store := sessions.NewCookieStore(sessionKey)
	mw, err := chatwidget.New("demo-widget", key,
		chatwidget.SessionResolver(store, "session", chatwidget.SessionKeys{Name: "name", Fields: map[string]string{"Plan": "plan"}}))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		templ.Handler(page("Shop", mw.Snippet(r))).ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session") // a new session if the cookie is stale
		s.Values["name"], s.Values["plan"] = r.PostFormValue("name"), "Pro"
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
