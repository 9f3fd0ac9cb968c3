// Template places the chat widget by hand: mw.Snippet(r) in an [html/template]
// page. mw.Handler, still around the site, sees its <script data-chatwidget>
// and adds nothing, but fills the pages that do not place it (/plain). In examples/:
//
//	openssl genrsa -out private.pem 2048 && go run ./routers/template
//	curl -b user=alice http://127.0.0.1:8080/
package main

import (
	"html/template"
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

// home is the home page; {{.}}, before the footer, is where the widget goes.
var home = template.Must(template.New("home").Parse(
	"<!DOCTYPE html>\n<title>Home</title>\n<body>\n<h1>Home</h1>\n{{.}}\n<footer>Example</footer>\n</body>\n"))

// newHandler returns the site, its tokens signed with key.
func newHandler(key chatwidget.Key) (http.Handler, error) {
	mw, err := chatwidget.New("demo-widget", key, chatwidget.ResolverFunc(visitor))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "private") // the snippet may hold a token: as mw.Handler would
		w.Header().Add("Vary", "Cookie")
		if err := home.Execute(w, mw.Snippet(r)); err != nil {
			log.Print(err) // a write error: the visitor has gone
		}
	})
	mux.HandleFunc("GET /plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!DOCTYPE html>\n<title>Plain</title>\n<body>\n<h1>Plain</h1>\n</body>\n"))
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
