package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatwidget/chatwidget/examples/routers/internal/routertest"
)

// TestHandler requests the site, wrapped by the middleware, as the demo users
// and as an anonymous visitor: the layout's pages carry the template's
// snippet and nothing more, /plain the middleware's.
func TestHandler(t *testing.T) {
	key, err := loadKey(routertest.KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := newMiddleware(key)
	if err != nil {
		t.Fatalf("newMiddleware: %v", err)
	}
	h, err := newHandler(mw)
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	pub := routertest.PublicKey(t, mw.PublicKeyPEM())
	alice := routertest.LoggedIn(pub, routertest.Visitor{Name: "Alice Example", Fields: map[string]string{"Plan": "Pro"}})
	bob := routertest.LoggedIn(pub, routertest.Visitor{Name: "Bob Sample", Fields: map[string]string{"Plan": "Free"}})
	// The pages have no scripts of their own: the widget's embed script,
	// and the customer-data script for a logged-in visitor.
	loggedInScripts, anonymousScripts := routertest.Scripts(2), routertest.Scripts(1)
	routertest.Run(t, srv, []routertest.Case{
		{Name: "home alice", Path: "/", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, loggedInScripts, routertest.Contains("<h1>Home</h1>")}},
		{Name: "home bob by query", Path: "/?user=bob", Status: http.StatusOK,
			Checks: []routertest.Check{bob, loggedInScripts}},
		{Name: "home anonymous", Path: "/", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous, anonymousScripts}},
		{Name: "product route param", Path: "/products/2", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, loggedInScripts, routertest.Contains("Product 2: Kettle.")}},
		{Name: "unknown product", Path: "/products/9", User: "alice", Status: http.StatusNotFound,
			Checks: []routertest.Check{routertest.NoWidget}},
		{Name: "plain page filled by the middleware", Path: "/plain", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, loggedInScripts}},
		{Name: "json untouched", Path: "/api/products", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Exactly("application/json", []byte(productsJSON))}},
	})
}

// TestMuxAlone serves the pages without the middleware, to show where the
// widget of TestHandler comes from: the layout's pages place it themselves,
// /plain has none.
func TestMuxAlone(t *testing.T) {
	key, err := loadKey(routertest.KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := newMiddleware(key)
	if err != nil {
		t.Fatalf("newMiddleware: %v", err)
	}
	mux, err := newMux(mw)
	if err != nil {
		t.Fatalf("newMux: %v", err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alice := routertest.LoggedIn(routertest.PublicKey(t, mw.PublicKeyPEM()),
		routertest.Visitor{Name: "Alice Example", Fields: map[string]string{"Plan": "Pro"}})
	routertest.Run(t, srv, []routertest.Case{
		{Name: "home alice", Path: "/", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, routertest.Scripts(2)}},
		{Name: "plain", Path: "/plain", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Exactly("text/html; charset=utf-8", []byte(plainHTML))}},
	})
}
