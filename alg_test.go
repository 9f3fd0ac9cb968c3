package chatwidget

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/internal/jwk"
	"github.com/golang-jwt/jwt/v5"
)

// TestThumbprintRFC7638 checks the thumbprint against the example of RFC
// 7638, section 3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint(RFC 7638 key) = %q, want %q", got, want)
	}
}

// opaqueSigner hides the key type, as a KMS or HSM signer does.
type opaqueSigner struct{ crypto.Signer }

func TestAlgorithms(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name, alg string
		key       crypto.Signer
	}{
		{"RS256/rsa", RS256, rsaKey},
		{"RS256/signer", RS256, opaqueSigner{rsaKey}},
		{"PS256/rsa", PS256, rsaKey},
		{"PS256/signer", PS256, opaqueSigner{rsaKey}},
		{"ES256/ecdsa", ES256, ecKey},
		{"ES256/signer", ES256, opaqueSigner{ecKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New("w1", KeySigner(tc.key), fixed(alice), WithAlgorithm(tc.alg), WithLogger(discardLogger()))
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := m.TokenFor(alice)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return tc.key.Public(), nil }, jwt.WithValidMethods([]string{tc.alg}))
			if err != nil {
				t.Fatalf("%s token does not verify with golang-jwt: %v", tc.alg, err)
			}
			kid, _ := Thumbprint(tc.key.Public())
			if parsed.Header["kid"] != kid {
				t.Errorf("kid = %v, want the thumbprint %q", parsed.Header["kid"], kid)
			}
			verifyWithOpenSSL(t, token, m.PublicKeyPEM(), tc.alg)
		})
	}
}

// verifyWithOpenSSL checks a token's signature with openssl dgst.
func verifyWithOpenSSL(t *testing.T, token string, pubPEM []byte, alg string) {
	t.Helper()
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	if alg == ES256 { // openssl wants the ASN.1 form
		sig, _ = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "input"), []byte(token[:dot]), 0o600)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o600)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pubPEM, 0o600)
	args := []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}
	if alg == PS256 {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")
	}
	out := openssl(t, dir, append(args, "input")...)
	if !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}
}

func TestAlgorithmErrors(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name string
		key  crypto.Signer
		opts []Option
		want string
	}{
		{"unknown alg", rsaKey, []Option{WithAlgorithm("HS256")}, `algorithm "HS256" is not supported`},
		{"RSA for ES256", rsaKey, []Option{WithAlgorithm(ES256)}, "key is RSA but the algorithm is ES256"},
		{"EC for RS256", ecKey, nil, "ECDSA key; the vendor verifies RS256"},
		{"EC for PS256", ecKey, []Option{WithAlgorithm(PS256)}, "ECDSA key; the vendor verifies PS256"},
		{"P-384 for ES256", p384, []Option{WithAlgorithm(ES256)}, "needs P-256"},
		{"small behind a signer", opaqueSigner{small}, nil, "key is 1024 bits"},
		{"nil signer", nil, nil, "nil signer"},
		{"bad published key", rsaKey, []Option{WithPublishedKeys(&small.PublicKey)}, "chatwidget: published key 1: key is 1024 bits"},
		{"published key not a key", rsaKey, []Option{WithPublishedKeys("not a key")}, "published key 1 is a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var key Key
			if tc.key == nil {
				key = KeySigner(nil)
			} else {
				key = KeySigner(tc.key)
			}
			_, err := New("w1", key, fixed(nil), tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestKeyIDOption checks the whole JOSE header of a token: the thumbprint
// of the key as kid by default, WithKeyID's kid when given, none for "".
func TestKeyIDOption(t *testing.T) {
	thumb, err := Thumbprint(testPublicKey(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"default", nil, `{"alg":"RS256","kid":"` + thumb + `","typ":"JWT"}`},
		{"WithKeyID", []Option{WithKeyID("k-2026-11")}, `{"alg":"RS256","kid":"k-2026-11","typ":"JWT"}`},
		{"WithKeyID empty", []Option{WithKeyID("")}, `{"alg":"RS256","typ":"JWT"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil, tc.opts...)
			token, _, err := m.TokenFor(alice)
			if err != nil {
				t.Fatal(err)
			}
			header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
			if err != nil {
				t.Fatal(err)
			}
			if string(header) != tc.want {
				t.Errorf("token header = %s, want %s", header, tc.want)
			}
		})
	}
}

// jwksKeyfunc verifies tokens against a JWKS document, by kid.
func jwksKeyfunc(t *testing.T, doc []byte) jwt.Keyfunc {
	t.Helper()
	var set struct{ Keys []jwk.JWK }
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	return func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tok.Header["kid"] && k.Use == "sig" && k.Alg == tok.Method.Alg() {
				n, _ := base64.RawURLEncoding.DecodeString(k.N)
				e, _ := base64.RawURLEncoding.DecodeString(k.E)
				return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}
}

// TestRotation follows the documented rotation across two instances: both
// publish the old and the new key; the old instance signs with the old key
// and the new with the new one; a verifier with either instance's JWKS
// accepts the tokens of both until they expire.
func TestRotation(t *testing.T) {
	oldKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	newKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	// Step 1: every instance publishes the next key before any signs with it.
	a, err := New("w1", KeyRSA(oldKey), fixed(alice), WithPublishedKeys(&newKey.PublicKey), WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Step 2: an instance that has switched signs with the new key and still
	// publishes the old one until the old tokens expire.
	b, err := New("w1", KeyRSA(newKey), fixed(alice), WithPublishedKeys(&oldKey.PublicKey), WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tokA, _, _ := a.TokenFor(alice)
	tokB, _, _ := b.TokenFor(alice)
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"A", a.JWKS()},
		{"B", b.JWKS()},
	} {
		name, doc := tc.name, tc.doc
		for _, tc := range []struct {
			tname string
			tok   string
		}{
			{"old", tokA},
			{"new", tokB},
		} {
			tname, tok := tc.tname, tc.tok
			if _, err := jwt.Parse(tok, jwksKeyfunc(t, doc), jwt.WithValidMethods([]string{RS256})); err != nil {
				t.Errorf("%s token does not verify with instance %s's JWKS: %v", tname, name, err)
			}
		}
	}
	// Step 3: once the old key is dropped, its tokens no longer verify.
	c, _ := New("w1", KeyRSA(newKey), fixed(alice))
	if _, err := jwt.Parse(tokA, jwksKeyfunc(t, c.JWKS()), jwt.WithValidMethods([]string{RS256})); err == nil {
		t.Errorf("a token of a key no longer published still verifies")
	}
	if strings.Count(string(a.PublishedKeysPEM()), "BEGIN PUBLIC KEY") != 2 {
		t.Errorf("PublishedKeysPEM = %s, want two keys", a.PublishedKeysPEM())
	}
}

func TestJWKSHandler(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	h := m.JWKSHandler()
	rec := serve(h, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("GET = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Verifiers may keep the set for 5 minutes: the README's rotation
	// steps wait that long.
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
	}
	body, _ := io.ReadAll(rec.Body)
	token, _, _ := m.TokenFor(alice)
	if _, err := jwt.Parse(token, jwksKeyfunc(t, body), jwt.WithValidMethods([]string{RS256})); err != nil {
		t.Errorf("token does not verify with the served JWKS: %v", err)
	}
	if rec := serve(h, httptest.NewRequest("HEAD", "/", nil)); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := serve(h, httptest.NewRequest("POST", "/", nil)); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	pub, err := ParsePublicKeyPEM(mustRead(t, "testdata/public.pem"))
	if err != nil || !testPublicKey(t).Equal(pub) {
		t.Fatalf("ParsePublicKeyPEM(public.pem) = %v, %v", pub, err)
	}
	for _, tc := range []struct {
		in   string
		want string
	}{
		{string(testKeyPEM(t)), "a private key was given where the public key belongs"},
		{"garbage", "no PEM block"},
	} {
		in, want := tc.in, tc.want
		if _, err := ParsePublicKeyPEM([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePublicKeyPEM(%.20q) = %v, want %q", in, err, want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
