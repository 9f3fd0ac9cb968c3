// Template shows the chat widget placed by hand in an [html/template] page:
// the layout has {{.Chat}} right before </body>, filled with mw.Snippet(r).
// The site is still wrapped in mw.Handler, for the pages that do not use the
// layout (here /plain); on the layout's pages the middleware finds the
// snippet's <script data-chatwidget> and inserts nothing, so each page has
// the widget exactly once.
//
// Run it from the examples module:
//
//	cd examples && go run ./routers/template [-addr 127.0.0.1:8080] [-key private.pem]
//
// then open http://127.0.0.1:8080/?user=alice, or send the cookie user=alice:
//
//	curl -b user=alice http://127.0.0.1:8080/products/1
//
// Without -key it signs with a throwaway 2048-bit key made at start; it
// prints the public key that verifies the tokens. The widget's script URL is
// the placeholder of [chatwidget.DefaultEmbedTemplate]: look at the page
// source, not for a chat bubble.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/chatwidget/chatwidget"
)

// main serves the example on -addr and exits non-zero when it cannot start.
func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address`")
	keyFile := flag.String("key", "", "RSA private key PEM `file`; empty: a throwaway 2048-bit key")
	flag.Parse()
	if err := run(*addr, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "template:", err)
		os.Exit(1)
	}
}

// run builds the site, prints where it listens and its public key, and
// serves.
func run(addr, keyFile string) error {
	key, err := loadKey(keyFile)
	if err != nil {
		return err
	}
	mw, err := newMiddleware(key)
	if err != nil {
		return err
	}
	h, err := newHandler(mw)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("template example: http://%s/?user=alice\n\nPublic key for the vendor's settings:\n\n%s", ln.Addr(), mw.PublicKeyPEM())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// loadKey returns the key in the PEM file at path, which chatwidget.New
// reads and checks, or, when path is empty, a throwaway 2048-bit key.
func loadKey(path string) (chatwidget.Key, error) {
	if path != "" {
		return chatwidget.KeyFile(path), nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return chatwidget.Key{}, fmt.Errorf("generate a throwaway key: %w", err)
	}
	return chatwidget.KeyRSA(k), nil
}

// newMiddleware returns the chatwidget middleware of the example, signing
// with key and asking demoVisitor who the visitor is.
func newMiddleware(key chatwidget.Key) (*chatwidget.Middleware, error) {
	return chatwidget.New("demo-widget", key, chatwidget.ResolverFunc(demoVisitor))
}

// newHandler returns the site: the pages of newMux, wrapped by mw.
func newHandler(mw *chatwidget.Middleware) (http.Handler, error) {
	mux, err := newMux(mw)
	if err != nil {
		return nil, err
	}
	return mw.Handler(mux), nil
}

// newMux returns the site's pages, which place mw's snippet themselves
// (except /plain), not yet wrapped by mw.
func newMux(mw *chatwidget.Middleware) (*http.ServeMux, error) {
	page, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, err
	}
	s := &site{mw: mw, page: page}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /products/{id}", s.product)
	mux.HandleFunc("GET /plain", plain)
	mux.HandleFunc("GET /api/products", products)
	return mux, nil
}

// demoVisitor is a stand-in for a session lookup, for the demo only: it
// believes whatever login the "user" cookie or the ?user= query parameter
// names, so anyone can be anyone. A real site reads its own signed session
// (see chatwidget.SessionResolver).
func demoVisitor(r *http.Request) (*chatwidget.Visitor, error) {
	login := r.URL.Query().Get("user")
	if c, err := r.Cookie("user"); err == nil {
		login = c.Value
	}
	switch login {
	case "alice":
		return &chatwidget.Visitor{Name: "Alice Example", Email: "alice@example.com", Subject: "u-1001",
			Fields: map[string]any{"Plan": "Pro"}}, nil
	case "bob":
		return &chatwidget.Visitor{Name: "Bob Sample", Subject: "u-2002",
			Fields: map[string]any{"Plan": "Free"}}, nil
	}
	return nil, nil // anonymous
}

// pageTemplate is the layout of the site's pages. {{.Chat}}, before </body>,
// is where the widget goes.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
<nav><a href="/">Home</a> · <a href="/products/1">Teapot</a> · <a href="/products/2">Kettle</a> · <a href="/plain">Plain</a> · <a href="/api/products">JSON</a></nav>
{{.Chat}}
</body>
</html>
`

// pageData fills pageTemplate.
type pageData struct {
	Title string
	Text  string
	Chat  template.HTML // mw.Snippet(r): the widget for the request's visitor
}

// site holds what the templated pages need; its methods are handlers.
type site struct {
	mw   *chatwidget.Middleware
	page *template.Template
}

// home serves GET /.
func (s *site) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "Home", "Log in as a demo user with ?user=alice or ?user=bob, or a user cookie.")
}

// product serves GET /products/{id}.
func (s *site) product(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	name, ok := productName(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.render(w, r, name, "Product "+id+": "+name+".")
}

// render writes the layout with title and text and the widget for r's
// visitor. It executes the template into a buffer first, so that a template
// error is a 500, not half a page.
func (s *site) render(w http.ResponseWriter, r *http.Request, title, text string) {
	var buf bytes.Buffer
	err := s.page.Execute(&buf, pageData{Title: title, Text: text, Chat: s.mw.Snippet(r)})
	if err != nil {
		slog.ErrorContext(r.Context(), "render page", "title", title, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The snippet may hold the visitor's token: keep the page out of shared
	// caches, as mw.Handler does for the pages it fills, so that the page
	// stays private even where mw does not wrap it.
	h.Set("Cache-Control", "private")
	h.Add("Vary", "Cookie")
	w.Write(buf.Bytes())
}

// plain serves GET /plain, a page written without the layout: the middleware
// inserts the widget before its </body>.
func plain(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(plainHTML))
}

// plainHTML is the body of GET /plain.
const plainHTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Plain</title></head>
<body>
<h1>Plain</h1>
<p>This page does not use the layout; the middleware inserts the widget.</p>
</body>
</html>
`

// products serves GET /api/products, which the middleware leaves alone.
func products(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(productsJSON))
}

// productsJSON is the body of GET /api/products.
const productsJSON = `{"products":[{"id":"1","name":"Teapot"},{"id":"2","name":"Kettle"}]}` + "\n"

// productName returns the name of the product id.
func productName(id string) (string, bool) {
	switch id {
	case "1":
		return "Teapot", true
	case "2":
		return "Kettle", true
	}
	return "", false
}
