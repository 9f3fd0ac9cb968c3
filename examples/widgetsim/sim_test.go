package widgetsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	key, other := keys(t)
	pub := publicPEM(t, &key.PublicKey)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	tests := []struct {
		name string
		pem  []byte
		opts []Option
		want []string // substrings of the error, nil for success
	}{
		{"PUBLIC KEY", pub, nil, nil},
		{"text around the block", slices.Concat([]byte("kid: abc\n"), pub, []byte("\n\n")), nil, nil},
		{"all options", pub, []Option{WithPrefix("/"), WithSkew(0), WithClock(nil)}, nil},
		{"nil", nil, nil, []string{"empty"}},
		{"blank", []byte(" \n\t"), nil, []string{"empty"}},
		{"garbage", []byte("ssh-rsa AAAAB3NzaC1yc2E"), nil, []string{"no PEM block"}},
		{"PKCS#8 private key", block("PRIVATE KEY", pkcs8), nil, []string{"private key", "pubout"}},
		{"PKCS#1 private key", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), nil, []string{"private key"}},
		{"PKCS#1 public key", block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)), nil, []string{"PKCS#1", "-RSAPublicKey_in"}},
		{"certificate request", block("CERTIFICATE REQUEST", []byte{1}), nil, []string{`"CERTIFICATE REQUEST"`}},
		{"corrupt PUBLIC KEY", block("PUBLIC KEY", []byte("not DER")), nil, []string{"cannot parse"}},
		{"EC key", block("PUBLIC KEY", ecDER), nil, []string{"not RSA"}},
		{"1024-bit key", publicPEM(t, &small.PublicKey), nil, []string{"1024 bits"}},
		{"two keys", slices.Concat(pub, publicPEM(t, &other.PublicKey)), nil, nil},
		{"prefix without leading slash", pub, []Option{WithPrefix("widgetsim/")}, []string{"prefix"}},
		{"prefix without trailing slash", pub, []Option{WithPrefix("/widgetsim")}, []string{"prefix"}},
		{"empty prefix", pub, []Option{WithPrefix("")}, []string{"prefix"}},
		{"prefix with a quote", pub, []Option{WithPrefix(`/a"b/`)}, []string{"prefix"}},
		{"prefix with dot dot", pub, []Option{WithPrefix("/a/../b/")}, []string{"prefix"}},
		{"prefix with double slash", pub, []Option{WithPrefix("/a//b/")}, []string{"prefix"}},
		{"negative skew", pub, []Option{WithSkew(-time.Second)}, []string{"skew"}},
		{"every error at once", []byte("junk"), []Option{WithPrefix("x"), WithSkew(-1)}, []string{"no PEM block", "prefix", "skew"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := New(tc.pem, tc.opts...)
			if tc.want == nil {
				if err != nil || sim == nil {
					t.Fatalf("New(%q) = %v, %v; want a Sim", tc.pem, sim, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%q) = nil error, want one with %q", tc.pem, tc.want)
			}
			if sim != nil {
				t.Errorf("New(%q) = %v, want a nil Sim with the error", tc.pem, sim)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("New(%q) = %q, want it to mention %q", tc.pem, msg, w)
				}
			}
			for line := range strings.Lines(msg) {
				if !strings.HasPrefix(line, "widgetsim: ") {
					t.Errorf("error line %q lacks the prefix widgetsim: ", line)
				}
			}
			if strings.Contains(msg, "MII") {
				t.Errorf("error %q holds key material", msg)
			}
		})
	}
}

// TestThumbprint checks the kid of the key set against RFC 7638's example.
func TestThumbprint(t *testing.T) {
	// RFC 7638, section 3.1.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	const want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b), E: 65537}
	if got := thumbprint(pub); got != want {
		t.Errorf("thumbprint(RFC 7638 key) = %q, want %q", got, want)
	}
}
