package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatwidget/chatwidget/examples/routers/internal/routertest"
)

// productsJSON is the body of GET /api/products.
const productsJSON = `[{"id":1,"name":"Teapot"}]` + "\n"

// TestHandler requests the site through the ServeMux, as Alice and as an
// anonymous visitor.
func TestHandler(t *testing.T) {
	h, err := newHandler(routertest.Key())
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	alice := routertest.LoggedIn(routertest.PublicKey(t), routertest.Visitor{Name: "Alice Example", Fields: map[string]string{"Plan": "Pro"}})
	routertest.Run(t, srv, []routertest.Case{
		{Name: "home alice", Path: "/", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, routertest.Contains("<h1>Home</h1>")}},
		{Name: "home anonymous", Path: "/", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous}},
		{Name: "home someone else", Path: "/", User: "mallory", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous}},
		{Name: "json untouched", Path: "/api/products", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Exactly("application/json", []byte(productsJSON))}},
		// The mux's own 404 is plain text: no widget.
		{Name: "only / is home", Path: "/nope", User: "alice", Status: http.StatusNotFound,
			Checks: []routertest.Check{routertest.NoWidget}},
	})
}
