package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/hsm"
	"github.com/golang-jwt/jwt/v5"
	"github.com/miekg/pkcs11"
)

// The test token, made afresh by each test in its own directory.
const (
	tokenLabel = "test"
	userPIN    = "1234"
	soPIN      = "5678"
	rsaLabel   = "chatwidget-rsa"
	ecLabel    = "chatwidget-ec"
)

// modulePaths are where distributions put SoftHSM2's PKCS#11 module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so", // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so", // Fedora
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

var alice = &chatwidget.Visitor{
	Name:    "Alice Example",
	Email:   "alice@example.com",
	Subject: "u-1001",
	Fields:  map[string]any{"User ID": "u-1001"},
}

// need stops the test when a tool is missing: it fails under CI, where the
// tools must be installed, and skips loudly elsewhere.
func need(t *testing.T, what, install string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found: THIS TEST DID NOT RUN; install it with `%s`", what, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so a missing tool is a failure)")
	}
	skipBanner.Do(func() { fmt.Fprintln(os.Stderr, "hsm: WARNING: "+msg) }) // seen without -v too
	t.Skip("SKIP: " + msg)
}

var skipBanner sync.Once

// softHSM returns the path of SoftHSM2's PKCS#11 module, and checks that
// softhsm2-util and openssl are there too.
func softHSM(t *testing.T) string {
	t.Helper()
	module := ""
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	if module == "" {
		need(t, "libsofthsm2.so (looked in "+strings.Join(modulePaths, ", ")+")", "apt-get install softhsm2")
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		need(t, "softhsm2-util", "apt-get install softhsm2")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		need(t, "openssl", "apt-get install openssl")
	}
	return module
}

// initToken initialises an empty SoftHSM2 token in a temporary directory and
// points SoftHSM at it for this test. It returns the module's path.
func initToken(t *testing.T) string {
	t.Helper()
	module := softHSM(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf) // read by softhsm2-util and by the module when it is loaded
	run(t, "softhsm2-util", "--init-token", "--free", "--label", tokenLabel, "--pin", userPIN, "--so-pin", soPIN)
	return module
}

// newToken initialises a token and opens a session on it, closed when the
// test ends.
func newToken(t *testing.T) (*hsm.Session, string) {
	t.Helper()
	module := initToken(t)
	s, err := hsm.Open(hsm.Config{Path: module, TokenLabel: tokenLabel, Pin: userPIN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, module
}

// newKeys generates the RSA 2048 and P-256 key pairs inside the token.
func newKeys(t *testing.T, s *hsm.Session) {
	t.Helper()
	if _, err := s.Context().GenerateRSAKeyPairWithLabel([]byte("rsa-1"), []byte(rsaLabel), 2048); err != nil {
		t.Fatalf("GenerateRSAKeyPairWithLabel: %v", err)
	}
	if _, err := s.Context().GenerateECDSAKeyPairWithLabel([]byte("ec-1"), []byte(ecLabel), elliptic.P256()); err != nil {
		t.Fatalf("GenerateECDSAKeyPairWithLabel: %v", err)
	}
}

func signer(t *testing.T, s *hsm.Session, label string) crypto.Signer {
	t.Helper()
	k, err := s.Signer(label)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var algs = []struct {
	alg   string
	label string
}{
	{chatwidget.RS256, rsaLabel},
	{chatwidget.PS256, rsaLabel},
	{chatwidget.ES256, ecLabel},
}

// TestTokensVerify signs tokens in the token for each algorithm, through
// Middleware.Token and through a page served by Middleware.Handler, and
// checks them with golang-jwt and with openssl.
func TestTokensVerify(t *testing.T) {
	s, _ := newToken(t)
	newKeys(t, s)
	for _, tc := range algs {
		t.Run(tc.alg, func(t *testing.T) {
			k := signer(t, s, tc.label)
			// No cache: every token below is a fresh signature by the token.
			mw, err := chatwidget.New("test-widget", chatwidget.KeySigner(k), chatwidget.ResolverFunc(
				func(*http.Request) (*chatwidget.Visitor, error) { return alice, nil }),
				chatwidget.WithAlgorithm(tc.alg), chatwidget.WithTokenCacheBytes(0))
			if err != nil {
				t.Fatal(err)
			}
			pubPEM := mw.PublicKeyPEM()
			pub := parsePublicKey(t, pubPEM)
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
				t.Fatal("PublicKeyPEM() is not the public half of the token's key pair")
			}

			tok, _, err := mw.TokenFor(alice)
			if err != nil {
				t.Fatalf("Token(alice): %v", err)
			}
			page := servePage(t, mw)
			injected, ok := injectedToken(page)
			if !ok {
				t.Fatalf("page served through Handler has no token: %q", page)
			}
			for _, tk := range []struct {
				name string
				tok  string
			}{
				{"Token", tok},
				{"Handler", injected},
			} {
				name, tok := tk.name, tk.tok
				checkJWT(t, tc.alg, tok, pub)
				if err := opensslVerify(t, tc.alg, tok, pubPEM); err != nil {
					t.Errorf("%s: openssl rejects the %s token: %v", tc.alg, name, err)
				}
				if err := opensslVerify(t, tc.alg, tamper(tok), pubPEM); err == nil {
					t.Errorf("%s: openssl accepts a tampered %s token", tc.alg, name)
				}
			}
		})
	}
}

// TestConcurrentSigning signs from many goroutines at once, as the
// middleware does, with no token cache.
func TestConcurrentSigning(t *testing.T) {
	s, _ := newToken(t)
	newKeys(t, s)
	for _, tc := range algs {
		t.Run(tc.alg, func(t *testing.T) {
			mw, err := chatwidget.New("test-widget", chatwidget.KeySigner(signer(t, s, tc.label)),
				chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }),
				chatwidget.WithAlgorithm(tc.alg), chatwidget.WithTokenCacheBytes(0))
			if err != nil {
				t.Fatal(err)
			}
			pub := parsePublicKey(t, mw.PublicKeyPEM())
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 8 {
						v := &chatwidget.Visitor{Name: fmt.Sprintf("visitor %d-%d", g, i)}
						tok, _, err := mw.TokenFor(v)
						if err != nil {
							t.Errorf("Token(%q): %v", v.Name, err)
							return
						}
						if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
							jwt.WithValidMethods([]string{tc.alg})); err != nil {
							t.Errorf("token for %q does not verify: %v", v.Name, err)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestKeyStaysInToken shows that the signer holds a handle, not the key, and
// that the token marks the key sensitive and refuses to hand out its secret.
func TestKeyStaysInToken(t *testing.T) {
	s, module := newToken(t)
	newKeys(t, s)
	secret := map[string]uint{rsaLabel: pkcs11.CKA_PRIVATE_EXPONENT, ecLabel: pkcs11.CKA_VALUE}
	for _, label := range []string{rsaLabel, ecLabel} {
		t.Run(label, func(t *testing.T) {
			k := signer(t, s, label)
			switch k.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey:
				t.Fatalf("Signer(%q) is a %T: the key is in memory", label, k)
			}
			attrs, err := s.Context().GetAttributes(k, []crypto11.AttributeType{
				pkcs11.CKA_SENSITIVE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_NEVER_EXTRACTABLE})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				typ  uint
				want bool
			}{
				{"CKA_SENSITIVE", pkcs11.CKA_SENSITIVE, true},
				{"CKA_ALWAYS_SENSITIVE", pkcs11.CKA_ALWAYS_SENSITIVE, true},
				{"CKA_EXTRACTABLE", pkcs11.CKA_EXTRACTABLE, false},
				{"CKA_NEVER_EXTRACTABLE", pkcs11.CKA_NEVER_EXTRACTABLE, true},
			} {
				if got := bytes.Equal(attrs[c.typ].Value, []byte{1}); got != c.want {
					t.Errorf("%s of %s = %v, want %v", c.name, label, got, c.want)
				}
			}
			a, err := s.Context().GetAttribute(k, secret[label])
			if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
				t.Errorf("reading the secret of %s = %v, %v; want CKR_ATTRIBUTE_SENSITIVE", label, a, err)
			}
		})
	}
	// A second opinion from OpenSC, when it is installed.
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		need(t, "pkcs11-tool", "apt-get install opensc")
	}
	out := run(t, "pkcs11-tool", "--module", module, "--token-label", tokenLabel, "--login", "--pin", userPIN,
		"--list-objects", "--type", "privkey")
	for _, label := range []string{rsaLabel, ecLabel} {
		if a := access(out, label); !strings.Contains(a, "sensitive, always sensitive, never extractable") {
			t.Errorf("pkcs11-tool lists %s with access %q, want sensitive and never extractable:\n%s", label, a, out)
		}
	}
}

// access returns the Access line of the private key labelled label in the
// output of `pkcs11-tool --list-objects`.
func access(list, label string) string {
	for _, obj := range strings.Split(list, "Private Key Object") {
		lines := strings.Split(obj, "\n")
		if !slices.ContainsFunc(lines, func(l string) bool { return slices.Equal(strings.Fields(l), []string{"label:", label}) }) {
			continue
		}
		for _, l := range lines {
			if a, ok := strings.CutPrefix(strings.TrimSpace(l), "Access:"); ok {
				return strings.TrimSpace(a)
			}
		}
	}
	return ""
}

// TestPKCS11ToolKey uses a key pair made with OpenSC's pkcs11-tool, as the
// package doc shows, and checks its tokens with openssl.
func TestPKCS11ToolKey(t *testing.T) {
	s, module := newToken(t)
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		need(t, "pkcs11-tool", "apt-get install opensc")
	}
	run(t, "pkcs11-tool", "--module", module, "--token-label", tokenLabel, "--login", "--pin", userPIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--label", "tool-ec", "--id", "03", "--usage-sign")
	mw, err := chatwidget.New("test-widget", chatwidget.KeySigner(signer(t, s, "tool-ec")),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }),
		chatwidget.WithAlgorithm(chatwidget.ES256))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := mw.TokenFor(alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := opensslVerify(t, chatwidget.ES256, tok, mw.PublicKeyPEM()); err != nil {
		t.Errorf("openssl rejects the token: %v", err)
	}
}

func TestSignerErrors(t *testing.T) {
	s, _ := newToken(t)
	newKeys(t, s)
	if _, err := s.Context().GenerateECDSAKeyPairWithLabel([]byte("ec-2"), []byte(ecLabel), elliptic.P256()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label, want string
	}{
		{"no-such-key", `token "test" has no key pair labelled "no-such-key"`},
		{ecLabel, `token "test" has 2 key pairs labelled "chatwidget-ec"`},
	} {
		k, err := s.Signer(tc.label)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Signer(%q) = %v, %v; want an error containing %q", tc.label, k, err, tc.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	module := initToken(t)
	for _, tc := range []struct {
		name string
		cfg  hsm.Config
		want string
	}{
		{"no path", hsm.Config{TokenLabel: tokenLabel, Pin: userPIN}, "Config.Path is empty"},
		{"missing module", hsm.Config{Path: "/nonexistent/libpkcs11.so", TokenLabel: tokenLabel, Pin: userPIN}, "apt-get install softhsm2"},
		{"no token label", hsm.Config{Path: module, Pin: userPIN}, "Config.TokenLabel is empty"},
		{"unknown token", hsm.Config{Path: module, TokenLabel: "nope", Pin: userPIN}, `open token "nope"`},
		{"wrong PIN", hsm.Config{Path: module, TokenLabel: tokenLabel, Pin: "98765"}, "CKR_PIN_INCORRECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := hsm.Open(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) succeeded, want an error containing %q", tc.cfg, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
			}
			if tc.cfg.Pin != "" && strings.Contains(err.Error(), tc.cfg.Pin) {
				t.Errorf("Open error %q holds the PIN", err)
			}
		})
	}
}

// TestOpenWhileLoggedIn pins down what Open's doc says: PKCS#11 login
// belongs to the process, so while one Session is open, another on the same
// token opens whatever its PIN.
func TestOpenWhileLoggedIn(t *testing.T) {
	_, module := newToken(t)
	s, err := hsm.Open(hsm.Config{Path: module, TokenLabel: tokenLabel, Pin: "98765"})
	if err != nil {
		t.Fatalf("Open with a wrong PIN while logged in = %v, want success (PKCS#11 login is per process)", err)
	}
	s.Close()
}

// TestClosedSession shows that a closed session's signer fails rather than
// signing with something else.
func TestClosedSession(t *testing.T) {
	s, module := newToken(t) // s keeps the module loaded while other closes
	newKeys(t, s)
	other, err := hsm.Open(hsm.Config{Path: module, TokenLabel: tokenLabel, Pin: userPIN})
	if err != nil {
		t.Fatal(err)
	}
	k, err := other.Signer(rsaLabel)
	if cerr := other.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := k.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Errorf("Sign after Close = %x, nil; want an error", sig)
	}
}

// servePage serves an HTML page to a logged-in visitor through mw.Handler.
func servePage(t *testing.T, mw *chatwidget.Middleware) string {
	t.Helper()
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><head><title>Account</title></head><body><p>Hello</p></body></html>")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/account", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /account: status %d", rec.Code)
	}
	return rec.Body.String()
}

// injectedToken finds the token the default customer-data code carries.
func injectedToken(page string) (string, bool) {
	before, after, _ := strings.Cut(chatwidget.DefaultCustomerDataTemplate, "JWT_TOKEN")
	_, rest, ok := strings.Cut(page, before)
	if !ok {
		return "", false
	}
	tok, _, ok := strings.Cut(rest, after)
	return tok, ok && strings.Count(tok, ".") == 2
}

func parsePublicKey(t *testing.T, pubPEM []byte) crypto.PublicKey {
	t.Helper()
	block, _ := pem.Decode(pubPEM)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PublicKeyPEM() = %q, want a PUBLIC KEY block", pubPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// checkJWT verifies tok with golang-jwt and checks its claims.
func checkJWT(t *testing.T, alg, tok string, pub crypto.PublicKey) {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired(), jwt.WithIssuedAt()); err != nil {
		t.Fatalf("%s token does not verify with golang-jwt: %v", alg, err)
	}
	if claims["name"] != alice.Name || claims["email"] != alice.Email || claims["sub"] != alice.Subject ||
		claims["isLoggedIn"] != true || claims["User ID"] != "u-1001" {
		t.Errorf("%s token claims = %v, want alice's", alg, claims)
	}
}

// opensslVerify checks the signature of tok with `openssl dgst -verify`.
func opensslVerify(t *testing.T, alg, tok string, pubPEM []byte) error {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("token has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	if alg == chatwidget.ES256 {
		if sig, err = derSignature(sig); err != nil {
			return err
		}
	}
	dir := t.TempDir()
	files := map[string][]byte{"pub.pem": pubPEM, "input": []byte(parts[0] + "." + parts[1]), "sig": sig}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	args := []string{"dgst", "-sha256", "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig")}
	if alg == chatwidget.PS256 {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")
	}
	args = append(args, filepath.Join(dir, "input"))
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		return fmt.Errorf("openssl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// derSignature turns a JWS ECDSA signature (r || s) into the ASN.1 DER
// form openssl reads.
func derSignature(raw []byte) ([]byte, error) {
	if len(raw) != 64 {
		return nil, fmt.Errorf("ES256 signature is %d bytes, want 64", len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}

// tamper changes one character of the payload of tok.
func tamper(tok string) string {
	i := strings.Index(tok, ".") + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
