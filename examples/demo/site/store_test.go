package site

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
)

// TestPublicPage checks /public: the handler's public, max-age=600 reaches
// an anonymous visitor as it is, and a logged-in visitor's copy, which
// carries their token, is private.
func TestPublicPage(t *testing.T) {
	s := newTestSite(t, testKey(), io.Discard)
	pub := parsePublicKey(t, s.PublicKey)
	base, c := newTestClient(t, s)
	res, body := get("/public").do(t, c, base)
	isAnonymous(t, res, body)
	if cc := res.Header.Get("Cache-Control"); cc != publicCacheControl {
		t.Errorf("anonymous /public: Cache-Control = %q, want %q", cc, publicCacheControl)
	}
	loginAs("alice").do(t, c, base)
	res, body = get("/public").do(t, c, base)
	isVisitor(pub, visitor{
		name: "Alice Example", email: "alice@example.com", sub: "u-1001",
		fields: map[string]string{"User ID": "u-1001", "Plan": "Pro"},
	})(t, res, body)
	if cc := res.Header.Get("Cache-Control"); strings.Contains(cc, "public") {
		t.Errorf("logged-in /public: Cache-Control = %q, want no public", cc)
	}
}

// TestJWKS checks that the demo publishes its signing key, and the keys of
// appConfig.Published after it, at jwksPath.
func TestJWKS(t *testing.T) {
	next, err := chatwidget.ParsePublicKeyPEM(newTestSite(t, mustLoadKey(t, ""), io.Discard).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		published []crypto.PublicKey
		want      int
	}{
		{"signing key only", nil, 1},
		{"and the next key", []crypto.PublicKey{next}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestApp(t, appConfig{WidgetID: testWidgetID, Key: testKey(), Published: tc.published,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			base, c := newTestClient(t, s)
			res, body := get(jwksPath, hasStatus(http.StatusOK)).do(t, c, base)
			var doc struct {
				Keys []struct{ Kid string } `json:"keys"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || res.Header.Get("Content-Type") != "application/jwk-set+json" {
				t.Fatalf("GET %s = %q (%s), %v; want a JWKS", jwksPath, body, res.Header.Get("Content-Type"), err)
			}
			kid, _ := chatwidget.Thumbprint(parsePublicKey(t, s.PublicKey))
			if len(doc.Keys) != tc.want || doc.Keys[0].Kid != kid {
				t.Errorf("JWKS keys = %+v, want %d, the signing key's (%s) first", doc.Keys, tc.want, kid)
			}
		})
	}
}

// mustLoadKey is loadKey, failing t on an error.
func mustLoadKey(t *testing.T, path string) chatwidget.Key {
	t.Helper()
	k, err := loadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAccounts checks that POST /login logs in as the accounts given beside
// the demo's own, which the login form does not list, and as no other.
func TestAccounts(t *testing.T) {
	load := User{Login: "load-4", Name: "Load User 4", Email: "load-4@example.test", ID: "u-load-4"}
	s := newTestApp(t, appConfig{WidgetID: testWidgetID, Key: testKey(), Accounts: []User{load},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	pub := parsePublicKey(t, s.PublicKey)
	base, c := newTestClient(t, s)
	// The form lists the demo's own users only.
	res, body := get("/").do(t, c, base)
	hasNo(`value="load-4"`)(t, res, body)
	if !strings.Contains(string(body), `value="alice"`) {
		t.Errorf("home page has no login form listing alice:\n%s", body)
	}
	res, body = loginAs("load-4").do(t, c, base)
	isVisitor(pub, visitor{
		name: "Load User 4", email: "load-4@example.test", sub: "u-load-4",
		fields: map[string]string{"User ID": "u-load-4"},
	})(t, res, body)
	_, body = get("/api/me").do(t, c, base)
	if want := `"login":"load-4"`; !strings.Contains(string(body), want) {
		t.Errorf("/api/me after logging in as load-4 = %s, want it to contain %s", body, want)
	}
	if res, _ := loginAs("load-5").do(t, c, base); res.StatusCode != http.StatusBadRequest {
		t.Errorf("login as load-5: status %d, want 400", res.StatusCode)
	}
	// Without accounts there are none.
	base, c = newTestClient(t, newTestSite(t, testKey(), io.Discard))
	if res, _ := loginAs("load-4").do(t, c, base); res.StatusCode != http.StatusBadRequest {
		t.Errorf("login as load-4 without accounts: status %d, want 400", res.StatusCode)
	}
}

// TestAccountsRefused checks that an account without a login of its own is
// refused before the site serves.
func TestAccountsRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accounts []User
	}{
		{"no login", []User{{Name: "Nobody"}}},
		{"a demo user's login", []User{{Login: "alice", Name: "Another Alice"}}},
		{"twice the same login", []User{{Login: "load-0", Name: "A"}, {Login: "load-0", Name: "B"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newApp(appConfig{Origin: "http://127.0.0.1:8080", WidgetID: testWidgetID, Key: testKey(), Accounts: tc.accounts})
			if err == nil || !strings.Contains(err.Error(), "login of its own") {
				t.Errorf("newApp(Accounts: %+v) error = %v, want one asking for a login of its own", tc.accounts, err)
			}
		})
	}
}

// TestLoadPublished checks that -publish files are read as public keys,
// and that a missing file or a private key is refused, naming the file.
func TestLoadPublished(t *testing.T) {
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "next.pub.pem")
	if err := os.WriteFile(pubFile, newTestSite(t, testKey(), io.Discard).PublicKey, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := loadPublished([]string{pubFile})
	if err != nil || len(keys) != 1 {
		t.Fatalf("loadPublished(public key) = %v, %v; want one key", keys, err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.pem"), filepath.Join("testdata", "private.pem")} {
		if _, err := loadPublished([]string{p}); err == nil || !strings.Contains(err.Error(), "-publish") {
			t.Errorf("loadPublished(%s) error = %v, want one about -publish", p, err)
		}
	}
}

// TestOpenRedisStoreErrors checks what -redis refuses before any request:
// no or a short CHATWIDGET_SESSION_KEY, a bad URL, a server that does not
// answer; and that Run prints nothing then.
func TestOpenRedisStoreErrors(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	nowhere := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name, addr string
		key        []byte
		want       string
	}{
		{"no session key", nowhere, nil, "CHATWIDGET_SESSION_KEY"},
		{"short session key", nowhere, []byte("short"), "fewer than 32"},
		{"bad URL", "redis://host:port:port/x", key, "-redis"},
		{"no server", nowhere, key, "does not answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := openRedisStore(context.Background(), tc.addr, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("openRedisStore(%q) error = %v, want one saying %q", tc.addr, err, tc.want)
			}
		})
	}
	var stdout bytes.Buffer
	err := Run([]string{"-redis", nowhere, "-addr", "no-port"}, func(string) string { return "" }, &stdout, io.Discard)
	if err == nil || stdout.Len() != 0 {
		t.Errorf("Run(-redis without a session key) = %v, printed %q; want an error and nothing printed", err, stdout.String())
	}
}

// failingStore is a session store whose server is down.
type failingStore struct{ sessions.Store }

// errStoreDown is failingStore's error: not a decode error.
var errStoreDown = errors.New("store down")

func (failingStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	s := sessions.NewSession(failingStore{}, name)
	s.Options = &sessions.Options{Path: "/", MaxAge: 3600}
	return s, errStoreDown
}

// TestStoreDown checks that a store that fails (not a cookie that does not
// decode) makes the visitor anonymous for the request, logged, and leaves
// their session cookie alone.
func TestStoreDown(t *testing.T) {
	var logs syncBuffer
	s := newTestApp(t, appConfig{WidgetID: testWidgetID, Key: testKey(), Store: failingStore{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	base, c := newTestClient(t, s)
	u, _ := url.Parse(base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionName, Value: "some-session"}})
	res, body := get("/").do(t, c, base)
	isAnonymous(t, res, body)
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie = %q, want the session cookie left alone", sc)
	}
	if !strings.Contains(logs.String(), "demo: read session") || !strings.Contains(logs.String(), errStoreDown.Error()) {
		t.Errorf("logs = %q, want the store's error", logs.String())
	}
}
