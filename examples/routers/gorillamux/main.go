// Gorillamux shows the chatwidget middleware in a [github.com/gorilla/mux]
// router, added with r.Use(mw.Handler). gorilla/mux runs that middleware only
// for requests that match a route, so the HTML 404 page of NotFoundHandler
// gets mw.Handler by hand. In examples/:
//
//	openssl genrsa -out private.pem 2048 && go run ./routers/gorillamux
//	curl -b user=alice http://127.0.0.1:8080/
package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/mux"
)

func main() {
	h, err := newHandler(chatwidget.KeyFile("private.pem"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newHandler returns the site, its tokens signed with key.
func newHandler(key chatwidget.Key) (http.Handler, error) {
	mw, err := chatwidget.New("demo-widget", key, chatwidget.ResolverFunc(visitor))
	if err != nil {
		return nil, err
	}
	r := mux.NewRouter()
	r.Use(mw.Handler)
	r.NotFoundHandler = mw.Handler(page(http.StatusNotFound, "Not found")) // no route: no r.Use
	r.Handle("/", page(http.StatusOK, "Home")).Methods(http.MethodGet)
	return r, nil
}

// page returns a handler that writes an HTML page with status and title.
func page(status int, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!DOCTYPE html>\n<title>%[1]s</title>\n<body>\n<h1>%[1]s</h1>\n</body>\n", title)
	}
}

// visitor trusts the user cookie; a real site reads its session (SessionResolver).
func visitor(r *http.Request) (*chatwidget.Visitor, error) {
	if c, err := r.Cookie("user"); err != nil || c.Value != "alice" {
		return nil, nil // anonymous
	}
	return &chatwidget.Visitor{Name: "Alice Example", Email: "alice@example.com", Subject: "u-1001",
		Fields: map[string]any{"Plan": "Pro"}}, nil
}
