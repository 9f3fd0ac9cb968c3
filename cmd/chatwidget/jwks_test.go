package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// jwksDoc is a printed JWKS, each key's members as strings.
type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

// runJWKS runs the jwks command and decodes what it prints.
func runJWKS(t *testing.T, args ...string) jwksDoc {
	t.Helper()
	args = append([]string{"jwks"}, args...)
	r := cli(t, "", args...)
	r.check(t, args, exitOK, "")
	var set jwksDoc
	if err := json.Unmarshal([]byte(r.stdout), &set); err != nil {
		t.Fatalf("chatwidget %q printed %q: %v", args, r.stdout, err)
	}
	return set
}

// verifyWithJWKS checks tok with golang-jwt's own signing methods and a key
// of set picked as jose and jwks-rsa pick one: by the token's kid (the only
// key when the token has none), used only for the alg the key announces.
func verifyWithJWKS(t *testing.T, tok string, set jwksDoc) error {
	t.Helper()
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256", "ES256"})).Parse(tok, func(tk *jwt.Token) (any, error) {
		kid, hasKid := tk.Header["kid"].(string)
		var k map[string]string
		switch {
		case hasKid:
			i := slices.IndexFunc(set.Keys, func(k map[string]string) bool { return k["kid"] == kid })
			if i < 0 {
				return nil, fmt.Errorf("no key with kid %q", kid)
			}
			k = set.Keys[i]
		case len(set.Keys) == 1:
			k = set.Keys[0]
		default:
			return nil, fmt.Errorf("no kid and %d keys", len(set.Keys))
		}
		if a := k["alg"]; a != "" && a != tk.Method.Alg() {
			return nil, fmt.Errorf("key %q is for %s, the token is %s", k["kid"], a, tk.Method.Alg())
		}
		return publicFromJWK(t, k), nil
	})
	return err
}

// publicFromJWK builds the public key of an RSA or P-256 JWK.
func publicFromJWK(t *testing.T, k map[string]string) any {
	t.Helper()
	if k["kty"] == "RSA" {
		return rsaFromJWK(t, k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil {
		t.Fatal(err)
	}
	y, err := base64.RawURLEncoding.DecodeString(k["y"])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("JWK %v: %v", k, err)
	}
	return pub
}

// opensslVerifyJWK checks an RS256 or PS256 token with openssl and the RSA
// key of set that has the token's kid (PS256 with the salt length of RFC
// 7518, rsa_pss_saltlen:-1).
func opensslVerifyJWK(t *testing.T, tok string, set jwksDoc) {
	t.Helper()
	var header struct{ Alg, Kid string }
	b, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil || json.Unmarshal(b, &header) != nil {
		t.Fatalf("header of %q: %s, %v", tok, b, err)
	}
	i := slices.IndexFunc(set.Keys, func(k map[string]string) bool { return k["kid"] == header.Kid })
	if i < 0 {
		t.Fatalf("no key with kid %q in %v", header.Kid, set.Keys)
	}
	der, err := x509.MarshalPKIXPublicKey(rsaFromJWK(t, set.Keys[i]))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub := writeTestPEM(t, dir, "jwk.pem", "PUBLIC KEY", der)
	in, sig := writeSigningInput(t, dir, tok)
	args := []string{"dgst", "-sha256", "-verify", pub, "-signature", sig}
	if header.Alg == chatwidget.PS256 {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")
	}
	if out := openssl(t, dir, append(args, in)...); !strings.Contains(out, "Verified OK") {
		t.Errorf("openssl %s: %s", strings.Join(args, " "), out)
	}
}

// signFor returns a token the library signs for Ada with key and opts.
func signFor(t *testing.T, key chatwidget.Key, opts ...chatwidget.Option) string {
	t.Helper()
	nobody := chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil })
	mw, err := chatwidget.New("w1", key, nobody, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := mw.TokenFor(&chatwidget.Visitor{Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestJWKSAlgKid checks that the JWKS printed with -alg and -kid verifies
// the tokens that the library signs with WithAlgorithm and WithKeyID, with
// golang-jwt's own methods (and openssl for RSA) picking the key as jose
// does: by kid, for its alg only.
func TestJWKSAlgKid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, ecPub := writePrivate(t, dir, "ec.key", ec), writePublic(t, dir, "ec.pem", &ec.PublicKey)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPriv, otherPub := writePrivate(t, dir, "other.key", other), writePublic(t, dir, "other.pem", &other.PublicKey)

	tests := []struct {
		name     string
		key      string // private key the library signs with
		opts     []chatwidget.Option
		args     []string // jwks flags and files
		verifies bool
	}{
		{"RS256 default kid", testPriv, nil, []string{testPub}, true},
		{"PS256 -alg PS256", testPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256)}, []string{"-alg", "PS256", testPub}, true},
		{"PS256 announced RS256", testPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256)}, []string{testPub}, false},
		{"RS256 announced PS256", testPriv, nil, []string{"-alg", "PS256", testPub}, false},
		{"custom kid", testPriv, []chatwidget.Option{chatwidget.WithKeyID("site-2026")}, []string{"-kid", "site-2026", testPub}, true},
		{"custom kid, JWKS with thumbprint", testPriv, []chatwidget.Option{chatwidget.WithKeyID("site-2026")}, []string{testPub}, false},
		{"custom kid, JWKS with another kid", testPriv, []chatwidget.Option{chatwidget.WithKeyID("site-2026")}, []string{"-kid", "site-2025", testPub}, false},
		{"PS256 and custom kid", testPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256), chatwidget.WithKeyID("k1")}, []string{"-alg", "PS256", "-kid", "k1", testPub}, true},
		{"PS256 without kid", testPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256), chatwidget.WithKeyID("")}, []string{"-alg", "PS256", "-kid", "", testPub}, true},
		{"ES256 custom kid", ecPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.ES256), chatwidget.WithKeyID("ec-1")}, []string{"-kid", "ec-1", ecPub}, true},
		{"second of two keys, -alg once", otherPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256), chatwidget.WithKeyID("new")}, []string{"-alg", "PS256", "-kid", "old", "-kid", "new", testPub, otherPub}, true},
		{"second of two keys, -alg per key", otherPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.PS256), chatwidget.WithKeyID("new")}, []string{"-alg", "RS256", "-alg", "PS256", "-kid", "old", "-kid", "new", testPub, otherPub}, true},
		{"kids swapped", otherPriv, []chatwidget.Option{chatwidget.WithKeyID("new")}, []string{"-kid", "new", "-kid", "old", testPub, otherPub}, false},
		{"mixed key types, -alg per key", ecPriv, []chatwidget.Option{chatwidget.WithAlgorithm(chatwidget.ES256)}, []string{"-alg", "PS256", "-alg", "ES256", testPub, ecPub}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := signFor(t, chatwidget.KeyFile(tc.key), tc.opts...)
			set := runJWKS(t, tc.args...)
			err := verifyWithJWKS(t, tok, set)
			if tc.verifies != (err == nil) {
				t.Fatalf("the token of %v verifies with the JWKS of jwks %q: %v, want %v\nJWKS: %v", tc.opts, tc.args, err, tc.verifies, set.Keys)
			}
			if tc.verifies && tc.key != ecPriv { // openssl checks the RSA tokens
				opensslVerifyJWK(t, tok, set)
			}
		})
	}
}

// TestJWKSFlags checks how -alg and -kid apply to the keys, and their errors.
func TestJWKSFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub := writePublic(t, dir, "ec.pem", &ec.PublicKey)
	thumb, err := chatwidget.Thumbprint(&testKey(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ kid, alg string }
	tests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
		want      []key
	}{
		{name: "defaults", args: []string{testPub}, want: []key{{thumb, "RS256"}}},
		{name: "-alg PS256", args: []string{"-alg", "PS256", testPub}, want: []key{{thumb, "PS256"}}},
		{name: "-kid", args: []string{"-kid", "k1", testPub}, want: []key{{"k1", "RS256"}}},
		{name: "-kid empty", args: []string{"-kid", "", testPub}, want: []key{{"", "RS256"}}},
		{name: "-alg once for two keys", args: []string{"-alg", "PS256", "-kid", "a", "-kid", "b", testPub, testPub}, want: []key{{"a", "PS256"}, {"b", "PS256"}}},
		{name: "same key, two algs, two kids", args: []string{"-alg", "RS256", "-alg", "PS256", "-kid", "rs", "-kid", "ps", testPub, testPub}, want: []key{{"rs", "RS256"}, {"ps", "PS256"}}},
		{name: "same key twice", args: []string{"-alg", "PS256", testPub, testPub}, stderrHas: "listed once", want: []key{{thumb, "PS256"}}},
		{name: "same key, two algs, one kid", args: []string{"-alg", "RS256", "-alg", "PS256", testPub, testPub}, code: exitFailure, stderrHas: "both have kid"},
		{name: "same kid for two keys", args: []string{"-kid", "a", "-kid", "a", testPub, ecPub}, code: exitFailure, stderrHas: `both have kid "a"`},
		{name: "PS256 for an EC key", args: []string{"-alg", "PS256", ecPub}, code: exitFailure, stderrHas: "-alg PS256 does not suit this ECDSA P-256 key; use -alg ES256"},
		{name: "ES256 for an RSA key", args: []string{"-alg", "ES256", testPub}, code: exitFailure, stderrHas: "use -alg RS256 or PS256"},
		{name: "-alg once for mixed keys", args: []string{"-alg", "PS256", testPub, ecPub}, code: exitFailure, stderrHas: "does not suit"},
		{name: "unknown alg", args: []string{"-alg", "HS256", testPub}, code: exitUsage, stderrHas: `"HS256" is not one of RS256, PS256, ES256`},
		{name: "-kid once for two keys", args: []string{"-kid", "a", testPub, ecPub}, code: exitUsage, stderrHas: "-kid is given once for 2 keys"},
		{name: "-alg twice for three keys", args: []string{"-alg", "RS256", "-alg", "PS256", testPub, testPub, testPub}, code: exitUsage, stderrHas: "-alg is given twice for 3 keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"jwks"}, tc.args...)
			r := cli(t, "", args...)
			r.check(t, args, tc.code, tc.stderrHas)
			if tc.code != exitOK {
				return
			}
			var set struct {
				Keys []struct {
					Kid *string `json:"kid"`
					Alg string  `json:"alg"`
				} `json:"keys"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &set); err != nil {
				t.Fatalf("chatwidget %q printed %q: %v", args, r.stdout, err)
			}
			var got []key
			for _, k := range set.Keys {
				if k.Kid != nil && *k.Kid == "" {
					t.Errorf("chatwidget %q printed an empty kid; want the member left out", args)
				}
				var kid string
				if k.Kid != nil {
					kid = *k.Kid
				}
				got = append(got, key{kid, k.Alg})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("chatwidget %q: keys (kid, alg) = %v, want %v", args, got, tc.want)
			}
		})
	}
}
