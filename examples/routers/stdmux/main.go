// Stdmux shows the chatwidget middleware around the standard library's
// [net/http.ServeMux]: the whole mux is wrapped once, so every HTML page it
// serves gets the widget and everything else passes through untouched. In
// examples/:
//
//	openssl genrsa -out private.pem 2048 && go run ./routers/stdmux
//	curl -b user=alice http://127.0.0.1:8080/
package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html>\n<title>Home</title>\n<body>\n<h1>Home</h1>\n</body>\n")
	})
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `[{"id":1,"name":"Teapot"}]`) // JSON: the middleware leaves it alone
	})
	return mw.Handler(mux), nil
}

// visitor trusts the user cookie; a real site reads its session (SessionResolver).
func visitor(r *http.Request) (*chatwidget.Visitor, error) {
	if c, err := r.Cookie("user"); err != nil || c.Value != "alice" {
		return nil, nil // anonymous
	}
	return &chatwidget.Visitor{Name: "Alice Example", Email: "alice@example.com", Subject: "u-1001",
		Fields: map[string]any{"Plan": "Pro"}}, nil
}
