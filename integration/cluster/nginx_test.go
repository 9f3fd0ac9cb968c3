package cluster

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/integration/cluster/clustertest"
)

// startCluster starts redis-server, two instances of the demo and nginx in
// front of them, and returns nginx and the instances.
func startCluster(t *testing.T) (*clustertest.Nginx, []*clustertest.Demo) {
	t.Helper()
	_, demos := startInstances(t, 2, nil)
	n := clustertest.StartNginx(t, demos[0].Addr, demos[1].Addr)
	return n, demos
}

// A fetch is one request through nginx and what came back.
type fetch struct {
	res   *http.Response
	body  []byte // decoded when nginx compressed it
	cache string // X-Cache-Status
}

// fetchVia gets path through nginx for v, with Accept-Encoding: gzip when
// gz is true (the body is then checked to be compressed, and decoded).
func fetchVia(t *testing.T, v *visitor, n *clustertest.Nginx, path string, gz bool) fetch {
	t.Helper()
	var h http.Header
	if gz {
		h = http.Header{"Accept-Encoding": {"gzip"}}
	}
	res, body, err := v.do(t.Context(), http.MethodGet, n.URL+path, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s through nginx: status %d; body:\n%s", path, res.StatusCode, body)
	}
	if gz {
		if ce := res.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("GET %s through nginx with Accept-Encoding: gzip: Content-Encoding %q, want gzip", path, ce)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("GET %s: gzip: %v", path, err)
		}
	}
	return fetch{res: res, body: body, cache: res.Header.Get("X-Cache-Status")}
}

// TestNginxCache puts nginx with proxy_cache in front of two instances, and
// checks what the middleware's headers alone make of it, with no rule about
// cookies in nginx.conf: /public, whose handler says Cache-Control: public,
// max-age=600 to everyone, is never served from the cache with a token,
// never stored while it carries one (the next anonymous visitor gets a MISS
// and an anonymous page), and is cached (HIT) once fetched anonymously;
// pages without caching headers are never cached. The cache directory holds
// no token at the end.
//
// A logged-in visitor who asks for /public once an anonymous copy is cached
// gets their own page if the anonymous copy says Vary: Cookie, and the
// cached anonymous copy if it does not (the README's "key your cache on the
// session cookie if that matters"); never anyone's token.
func TestNginxCache(t *testing.T) {
	n, demos := startCluster(t)
	ks := fetchJWKS(t, demos[0].URL)
	alice, bob := userIdentity("alice"), userIdentity("bob")
	va, vb, anon := newVisitor(nil), newVisitor(nil), newVisitor(nil)
	va.login(t, n.URL, "alice")
	vb.login(t, n.URL, "bob")
	upstreams := map[string]bool{}
	get := func(path string, i int, v *visitor, id *identity, cache string) fetch {
		t.Helper()
		f := fetchVia(t, v, n, path, false)
		if u := f.res.Header.Get("X-Upstream"); u != "" { // "" for a HIT
			upstreams[u] = true
		}
		if f.cache != cache {
			t.Errorf("GET %s #%d by %s: X-Cache-Status %q, want %q", path, i, who(id), f.cache, cache)
		}
		if _, err := checkPage(f.body, id, ks, time.Now()); err != nil {
			t.Errorf("GET %s #%d by %s (%s): %v", path, i, who(id), f.cache, err)
		}
		checkCacheHeaders(t, f, id != nil)
		return f
	}

	// Logged-in visitors first: nothing is stored until an anonymous one comes.
	path := "/public?first=alice"
	get(path, 0, va, &alice, "MISS")
	get(path, 1, va, &alice, "MISS")
	get(path, 2, vb, &bob, "MISS")
	get(path, 3, anon, nil, "MISS")
	get(path, 4, anon, nil, "HIT")

	// An anonymous visitor first, then a logged-in one.
	path = "/public?first=anonymous"
	f := get(path, 0, anon, nil, "MISS")
	get(path, 1, anon, nil, "HIT")
	if varies(f.res, "Cookie") {
		get(path, 2, vb, &bob, "MISS")
	} else {
		t.Logf("the anonymous /public does not say Vary: Cookie: a logged-in visitor gets nginx's cached anonymous copy")
		get(path, 2, vb, nil, "HIT")
	}

	for _, path := range []string{"/", "/about", "/"} {
		for _, v := range []*visitor{va, anon} {
			if f := fetchVia(t, v, n, path, false); f.cache == "HIT" {
				t.Errorf("GET %s: X-Cache-Status HIT for a page without caching headers", path)
			}
		}
	}
	if len(upstreams) != 2 {
		t.Errorf("nginx used upstreams %v, want both instances", upstreams)
	}
	checkCacheDir(t, filepath.Join(n.Dir, "cache"))
}

// varies reports whether res says Vary: field.
func varies(res *http.Response, field string) bool {
	for _, v := range res.Header.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}

// checkCacheHeaders checks the caching headers of /public: private with
// Vary: Cookie when it carries a token, the handler's public otherwise.
func checkCacheHeaders(t *testing.T, f fetch, loggedIn bool) {
	t.Helper()
	cc := f.res.Header.Get("Cache-Control")
	switch {
	case loggedIn && (!strings.HasPrefix(cc, "private") || strings.Contains(cc, "public") || !varies(f.res, "Cookie")):
		t.Errorf("logged-in /public: Cache-Control %q, Vary %q; want private and Cookie", cc, f.res.Header.Values("Vary"))
	case !loggedIn && cc != "public, max-age=600":
		t.Errorf("anonymous /public: Cache-Control %q, want the handler's public, max-age=600", cc)
	}
}

// checkCacheDir checks that no file nginx cached holds a token, the
// customer-data code or a logged-in visitor's page, and that it cached
// something.
func checkCacheDir(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range []string{"chatWidgetCustomerData", `action="/logout"`, "Alice Example", "Bob Sample"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("nginx cached %s, which holds %q", path, s)
			}
		}
		if jwtPattern.Match(b) {
			t.Errorf("nginx cached %s, which holds a token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("nginx cached nothing in %s; the anonymous /public should be there", dir)
	}
}

// TestNginxGzip checks that pages compressed by nginx (gzip on) decode and
// carry exactly one snippet, with the visitor's own token or none, whether
// they come from an instance or from nginx's cache.
func TestNginxGzip(t *testing.T) {
	n, demos := startCluster(t)
	ks := fetchJWKS(t, demos[1].URL)
	alice := userIdentity("alice")
	va, anon := newVisitor(nil), newVisitor(nil)
	va.login(t, n.URL, "alice")
	tests := []struct {
		name  string
		v     *visitor
		id    *identity
		path  string
		cache string
	}{
		{"logged in", va, &alice, "/", "MISS"},
		{"logged in, public", va, &alice, "/public?gzip", "MISS"},
		{"anonymous", anon, nil, "/about", "MISS"},
		{"anonymous, public", anon, nil, "/public?gzip", "MISS"},
		{"anonymous, public, cached", anon, nil, "/public?gzip", "HIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fetchVia(t, tc.v, n, tc.path, true)
			if f.cache != tc.cache {
				t.Errorf("X-Cache-Status %q, want %q", f.cache, tc.cache)
			}
			if _, err := checkPage(f.body, tc.id, ks, time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
}
