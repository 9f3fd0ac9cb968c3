package chatwidget

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
)

// testKeyPEM is a fixed 2048-bit key made by `openssl genrsa` (OpenSSL 3).
func testKeyPEM(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/private.pem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile("testdata/public.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// debugLogger returns a logger that writes every record, debug ones too,
// to l.
func debugLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// alice is the visitor most tests log in.
var alice = &Visitor{
	Name:    "Alice Example",
	Email:   "alice@example.com",
	Subject: "u-1001",
	Fields:  map[string]any{"User ID": "u-1001", "Telephone": "+1 555 0100", "Orders": 3, "VIP": true},
}

func fixed(v *Visitor) Resolver {
	return ResolverFunc(func(*http.Request) (*Visitor, error) { return v, nil })
}

// newTest returns a Middleware with the test key, logging to logs.
func newTest(t testing.TB, v Resolver, logs *logBuffer, opts ...Option) *Middleware {
	t.Helper()
	if logs == nil {
		logs = &logBuffer{}
	}
	opts = append([]Option{WithLogger(logs.logger()), WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`)}, opts...)
	m, err := New("test-widget", KeyPEM(testKeyPEM(t)), v, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

const page = "<!DOCTYPE html><html><head><title>t</title></head><body><p>hello</p></body></html>"

// htmlHandler serves body as an HTML page, with extra headers.
func htmlHandler(body string, header ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Write([]byte(body))
	})
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// scripts returns every <script> element of an HTML page: its attributes and
// its text, as the x/net/html parser sees them.
func scripts(t testing.TB, body string) []scriptElem {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []scriptElem
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "script" {
			s := scriptElem{attrs: map[string]string{}}
			for _, a := range n.Attr {
				s.attrs[a.Key] = a.Val
			}
			if n.FirstChild != nil {
				s.text = n.FirstChild.Data
			}
			out = append(out, s)
		}
	}
	return out
}

type scriptElem struct {
	attrs map[string]string
	text  string
}

// tokenIn extracts the token from the default customer-data script.
func tokenIn(t testing.TB, body string) string {
	t.Helper()
	const pre = `done("`
	i := strings.Index(body, pre)
	if i < 0 {
		t.Fatalf("no customer-data script in %q", body)
	}
	rest := body[i+len(pre):]
	return rest[:strings.IndexByte(rest, '"')]
}

// parseToken verifies token with the test public key and returns its claims.
func parseToken(t testing.TB, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		return testPublicKey(t), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return claims
}

// needOpenSSL returns the path of openssl, failing in CI when it is missing.
func needOpenSSL(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is missing; .ci/run installs it")
		}
		t.Skip("openssl not installed")
	}
	return p
}

// openSSLCommand returns an openssl command that runs in dir.
func openSSLCommand(t testing.TB, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(needOpenSSL(t), args...)
	cmd.Dir = dir
	return cmd
}

// openssl runs openssl in dir and fails the test on error.
func openssl(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	out, err := openSSLCommand(t, dir, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// failingSigner is a key in a KMS or an HSM that cannot be reached: its
// public half is known, and every signature fails.
type failingSigner struct{ pub crypto.PublicKey }

func (f failingSigner) Public() crypto.PublicKey { return f.pub }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("kms: connection refused")
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recorder is an http.ResponseWriter with a chosen set of optional
// interfaces, for the interface tests.
type recorder struct {
	*httptest.ResponseRecorder
	readFrom int
}

type flushRec struct{ r *recorder }

func (f flushRec) Flush() { f.r.Flush() }

type hijackRec struct{ r *recorder }

func (hijackRec) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errors.New("test") }

type readFromRec struct{ r *recorder }

func (r readFromRec) ReadFrom(src io.Reader) (int64, error) {
	r.r.readFrom++
	return io.Copy(struct{ io.Writer }{r.r.ResponseRecorder}, src)
}

// assertNoKeyMaterial fails if s holds any 16-character run of the PEM's
// base64 body, or of its decoded bytes in hex or base64.
func assertNoKeyMaterial(t *testing.T, s string, pemBytes []byte) {
	t.Helper()
	var body strings.Builder
	for line := range strings.SplitSeq(string(pemBytes), "\n") {
		if !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
			body.WriteString(strings.TrimSpace(line))
		}
	}
	b := body.String()
	for i := 0; i+16 <= len(b); i += 8 {
		if strings.Contains(s, b[i:i+16]) {
			t.Fatalf("%q holds key material %q", s, b[i:i+16])
		}
	}
}
