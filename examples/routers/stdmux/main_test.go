package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatwidget/chatwidget/examples/routers/internal/routertest"
)

// TestHandler requests the site through the ServeMux, as the demo users and
// as an anonymous visitor.
func TestHandler(t *testing.T) {
	key, err := loadKey(routertest.KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := newMiddleware(key)
	if err != nil {
		t.Fatalf("newMiddleware: %v", err)
	}
	srv := httptest.NewServer(newHandler(mw))
	defer srv.Close()

	pub := routertest.PublicKey(t, mw.PublicKeyPEM())
	alice := routertest.LoggedIn(pub, routertest.Visitor{Name: "Alice Example", Fields: map[string]string{"Plan": "Pro"}})
	bob := routertest.LoggedIn(pub, routertest.Visitor{Name: "Bob Sample", Fields: map[string]string{"Plan": "Free"}})
	routertest.Run(t, srv, []routertest.Case{
		{Name: "home alice", Path: "/", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, routertest.Contains("<h1>Home</h1>")}},
		{Name: "home bob by query", Path: "/?user=bob", Status: http.StatusOK,
			Checks: []routertest.Check{bob}},
		{Name: "home anonymous", Path: "/", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous}},
		{Name: "product route param", Path: "/products/2", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, routertest.Contains("Product 2: Kettle.")}},
		{Name: "unknown product", Path: "/products/9", User: "alice", Status: http.StatusNotFound,
			Checks: []routertest.Check{routertest.NoWidget}},
		{Name: "json untouched", Path: "/api/products", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Exactly("application/json", []byte(productsJSON))}},
		{Name: "only / is home", Path: "/nope", User: "alice", Status: http.StatusNotFound,
			Checks: []routertest.Check{routertest.NoWidget}},
	})
}
