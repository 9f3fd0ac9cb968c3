package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatwidget/chatwidget/examples/routers/internal/routertest"
)

// TestHandler requests the site, wrapped by the middleware, as Alice and as
// an anonymous visitor: the home page carries the template's snippet, before
// its footer, and nothing more; /plain the middleware's, before </body>.
func TestHandler(t *testing.T) {
	h, err := newHandler(routertest.Key())
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	alice := routertest.LoggedIn(routertest.PublicKey(t), routertest.Visitor{Name: "Alice Example", Fields: map[string]string{"Plan": "Pro"}})
	// The pages have no scripts of their own: the widget's embed script,
	// and the customer-data script for a logged-in visitor.
	loggedInScripts, anonymousScripts := routertest.Scripts(2), routertest.Scripts(1)
	placed := routertest.WidgetBefore("<footer>")
	routertest.Run(t, srv, []routertest.Case{
		{Name: "home alice", Path: "/", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, loggedInScripts, placed, routertest.Contains("<h1>Home</h1>")}},
		{Name: "home anonymous", Path: "/", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous, anonymousScripts, placed}},
		{Name: "home someone else", Path: "/", User: "mallory", Status: http.StatusOK,
			Checks: []routertest.Check{routertest.Anonymous, anonymousScripts, placed}},
		{Name: "plain page filled by the middleware", Path: "/plain", User: "alice", Status: http.StatusOK,
			Checks: []routertest.Check{alice, loggedInScripts, routertest.Contains("<h1>Plain</h1>")}},
		{Name: "no route", Path: "/nope", User: "alice", Status: http.StatusNotFound,
			Checks: []routertest.Check{routertest.NoWidget}},
	})
}
