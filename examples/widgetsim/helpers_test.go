package widgetsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// testWidget is the widget ID of the test site.
const testWidget = "demo-widget"

// testOrigin is the origin of the test site, which the embed URL names.
const testOrigin = "http://127.0.0.1:8080"

// testKeys are the site's key and another one, generated once: 2048-bit keys
// take a while under the race detector.
var testKeys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var ks [2]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return ks, err
		}
		ks[i] = k
	}
	return ks, nil
})

// keys returns the site's key and another key.
func keys(t *testing.T) (site, other *rsa.PrivateKey) {
	t.Helper()
	ks, err := testKeys()
	if err != nil {
		t.Fatalf("rsa.GenerateKey: %v", err)
	}
	return ks[0], ks[1]
}

// publicPEM returns the PKIX "PUBLIC KEY" PEM of k.
func publicPEM(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// testSite is a site that signs tokens with chatwidget, and the Sim that
// verifies them with the public key the site hands over.
type testSite struct {
	key, other *rsa.PrivateKey
	now        time.Time // the Sim's clock
	sim        *Sim
	mw         *chatwidget.Middleware
}

// newTestSite writes the site's key as a PKCS#8 PEM file, builds a
// chatwidget Middleware on it with the package's templates and visitor as
// every request's visitor, and a Sim from the Middleware's PublicKeyPEM.
func newTestSite(t *testing.T, visitor *chatwidget.Visitor) *testSite {
	t.Helper()
	key, other := keys(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("x509.MarshalPKCS8PrivateKey: %v", err)
	}
	path := filepath.Join(t.TempDir(), "private.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The templates first, the Middleware second, and the Sim third, from
	// what the Middleware says to paste into the vendor's settings.
	mw, err := chatwidget.New(testWidget, chatwidget.KeyFile(path),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return visitor, nil }),
		chatwidget.WithEmbedTemplate(EmbedTemplate(testOrigin, DefaultPrefix)),
		chatwidget.WithCustomerDataTemplate(CustomerDataTemplate()),
		chatwidget.WithAnonymousTemplate(AnonymousTemplate()),
		chatwidget.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("chatwidget.New: %v", err)
	}
	now := time.Now().Truncate(time.Second)
	sim, err := New(mw.PublicKeyPEM(), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("New(mw.PublicKeyPEM()) = %v", err)
	}
	return &testSite{key: key, other: other, now: now, sim: sim, mw: mw}
}

// page returns the HTML page the site serves through the Middleware.
func (s *testSite) page(t *testing.T) string {
	t.Helper()
	h := s.mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	return rec.Body.String()
}

// tokenPattern finds the token in the customer-data code.
var tokenPattern = regexp.MustCompile(`done\("([A-Za-z0-9_.-]*)"\)`)

// pageToken returns the token the site's page hands to the widget.
func (s *testSite) pageToken(t *testing.T) string {
	t.Helper()
	page := s.page(t)
	m := tokenPattern.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in page %q", page)
	}
	return m[1]
}

// claims returns valid claims issued at now, changed by edit.
func claims(now time.Time, edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"name":       "Ada Lovelace",
		"isLoggedIn": true,
		"email":      "ada@example.com",
		"iat":        now.Unix(),
		"exp":        now.Add(10 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign returns c signed with method and key, with the given header fields.
func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(%s): %v", method.Alg(), err)
	}
	return s
}

// payload decodes the claims of a compact JWS, numbers as sent.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", token, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload of %q: %v", token, err)
	}
	return decodeJSON(t, b)
}

// decodeJSON decodes a JSON object, numbers as json.Number.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// post posts body to the Sim's verify endpoint.
func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// verifyBody returns the JSON body that asks to verify token.
func verifyBody(t *testing.T, token string) string {
	t.Helper()
	b, err := json.Marshal(verifyRequest{Widget: testWidget, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
