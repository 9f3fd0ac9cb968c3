package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chatwidget/chatwidget/examples/frameworks/internal/frameworktest"
)

// TestSite logs in and navigates the site: the templ page carries the
// widget where the component put it, before the footer, and only there.
func TestSite(t *testing.T) {
	h, err := newSite(frameworktest.Key(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatalf("newSite: %v", err)
	}
	srv := frameworktest.Start(t, h)
	alice := frameworktest.LoggedIn(frameworktest.PublicKey(t), frameworktest.Claims{Name: "alice", Fields: map[string]any{"Plan": "Pro"}})
	placed := frameworktest.Contains("</script><footer>") // the snippet's last script, then the component's footer
	frameworktest.Run(t, srv, "/login", []frameworktest.Case{
		{Name: "templ page logged in", Login: url.Values{"name": {"alice"}}, Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{alice, placed, frameworktest.Contains("<h1>Shop</h1>")}},
		{Name: "templ page anonymous", Path: "/", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Anonymous, placed}},
		{Name: "json untouched", Login: url.Values{"name": {"alice"}}, Path: "/api/orders", Status: http.StatusOK,
			Checks: []frameworktest.Check{frameworktest.Exactly("application/json", []byte(`[{"id":1,"item":"Teapot"}]`))}},
	})
}

// TestGenerated checks that page_templ.go is what the templ of go.mod's tool
// directive makes of page.templ now: run `go generate ./templ` when it fails.
func TestGenerated(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	src, err := os.ReadFile("page.templ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.templ"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "tool", "templ", "generate", "-path", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool templ generate: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(dir, "page_templ.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("page_templ.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("page_templ.go is not what `go tool templ generate` makes of page.templ; run go generate ./templ:\n%s", want)
	}
}
