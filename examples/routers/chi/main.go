// Chi shows the chatwidget middleware in a [github.com/go-chi/chi/v5] router,
// added with r.Use(mw.Handler) among chi's own middleware. Middleware added
// with Use runs in the order it is added, the first outermost:
//
//   - middleware.RequestID comes first, so the request ID is in the context
//     that the resolver and the handlers see;
//   - middleware.Compress comes before mw.Handler, so it compresses the page
//     after the widget is in (the other way round, chatwidget would see a
//     gzip body and, rightly, leave it alone).
//
// Run it from the examples module:
//
//	cd examples && go run ./routers/chi [-addr 127.0.0.1:8080] [-key private.pem]
//
// then open http://127.0.0.1:8080/?user=alice, or send the cookie user=alice:
//
//	curl -b user=alice --compressed http://127.0.0.1:8080/products/1
//
// Without -key it signs with a throwaway 2048-bit key made at start; it
// prints the public key that verifies the tokens. The widget's script URL is
// the placeholder of [chatwidget.DefaultEmbedTemplate]: look at the page
// source, not for a chat bubble.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// main serves the example on -addr and exits non-zero when it cannot start.
func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address`")
	keyFile := flag.String("key", "", "RSA private key PEM `file`; empty: a throwaway 2048-bit key")
	flag.Parse()
	if err := run(*addr, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("chi example: http://%s/?user=alice\n\nPublic key for the vendor's settings:\n\n%s", ln.Addr(), mw.PublicKeyPEM())
	srv := &http.Server{Handler: newHandler(mw), ReadHeaderTimeout: 10 * time.Second}
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

// newHandler returns the site: a chi router whose middleware stack holds
// chi's RequestID and Compress, then mw.
func newHandler(mw *chatwidget.Middleware) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)   // outermost: the ID is in every context below
	r.Use(middleware.Compress(5)) // outside chatwidget: compresses the page with the widget
	r.Use(mw.Handler)             // innermost: sees the handler's uncompressed HTML
	r.Get("/", home)
	r.Get("/products/{id}", product)
	r.Get("/api/products", products)
	return r
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

// home serves GET /.
func home(w http.ResponseWriter, r *http.Request) {
	writePage(w, "Home", "Log in as a demo user with ?user=alice or ?user=bob, or a user cookie. "+
		"Request ID: "+middleware.GetReqID(r.Context())+".")
}

// product serves GET /products/{id}.
func product(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	name, ok := productName(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	writePage(w, name, "Product "+id+": "+name+".")
}

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

// writePage writes an HTML page with title and text, both escaped.
func writePage(w http.ResponseWriter, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, pageHTML, html.EscapeString(title), html.EscapeString(text))
}

// pageHTML is every page: %[1]s is the title, %[2]s the text. The middleware
// inserts the widget right before </body>.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>%[1]s</title></head>
<body>
<h1>%[1]s</h1>
<p>%[2]s</p>
<nav><a href="/">Home</a> · <a href="/products/1">Teapot</a> · <a href="/products/2">Kettle</a> · <a href="/api/products">JSON</a></nav>
</body>
</html>
`
