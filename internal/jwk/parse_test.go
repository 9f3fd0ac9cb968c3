package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

func TestParseSetRoundTrip(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	in := []Published{
		{Pub: &rk.PublicKey, Kid: "r1", Alg: "PS256"},
		{Pub: &ek.PublicKey, Kid: "e1", Alg: "ES256"},
		{Pub: &rk.PublicKey, Alg: "RS256"},
	}
	doc, err := Set(in)
	if err != nil {
		t.Fatal(err)
	}
	out, skipped, err := ParseSet(doc)
	if err != nil || skipped != 0 {
		t.Fatalf("ParseSet(Set(keys)) = %d skipped, %v", skipped, err)
	}
	if len(out) != len(in) {
		t.Fatalf("ParseSet(Set(keys)) = %d keys, want %d", len(out), len(in))
	}
	for i := range in {
		eq, _ := out[i].Pub.(interface{ Equal(crypto.PublicKey) bool })
		if eq == nil || !eq.Equal(in[i].Pub) || out[i].Kid != in[i].Kid || out[i].Alg != in[i].Alg {
			t.Errorf("key %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestParseSet(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Of(&ek.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := func(x, y string) string {
		return `{"keys":[{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}]}`
	}
	tests := []struct {
		name    string
		doc     string
		keys    int
		skipped int
		errHas  string
	}{
		{name: "empty set", doc: `{"keys":[]}`},
		{name: "EC", doc: ecKey(j.X, j.Y), keys: 1},
		{name: "skips oct", doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, skipped: 1},
		{name: "skips OKP", doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, skipped: 1},
		{name: "skips P-384", doc: `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`, skipped: 1},
		{name: "skips enc", doc: `{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`, skipped: 1},
		{name: "RSA e", doc: `{"keys":[{"kty":"RSA","n":"` + j.X + `","e":"AQAB"}]}`, keys: 1},
		{name: "RSA even e", doc: `{"keys":[{"kty":"RSA","n":"` + j.X + `","e":"AQAA"}]}`, errHas: "e must be an odd number"},
		{name: "RSA no n", doc: `{"keys":[{"kty":"RSA","e":"AQAB"}]}`, errHas: `key has no "n"`},
		{name: "RSA n padded", doc: `{"keys":[{"kty":"RSA","n":"AQAB==","e":"AQAB"}]}`, errHas: "not base64url without padding"},
		{name: "RSA n leading zero", doc: `{"keys":[{"kty":"RSA","n":"AAEC","e":"AQAB"}]}`, errHas: "leading zero"},
		{name: "no kty", doc: `{"keys":[{"n":"AQAB","e":"AQAB"}]}`, skipped: 1},
		{name: "EC short x", doc: ecKey(j.X[:20], j.Y), errHas: "32 bytes"},
		{name: "EC off the curve", doc: ecKey(j.Y, j.X), errHas: "P-256 key"},
		{name: "not JSON", doc: `keys`, errHas: "not a JWKS"},
		{name: "no keys", doc: `{"kty":"RSA"}`, errHas: `no "keys" array`},
		{name: "key not an object", doc: `{"keys":[7]}`, errHas: "key 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, skipped, err := ParseSet([]byte(tc.doc))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("ParseSet(%q) error = %v, want one containing %q", tc.doc, err, tc.errHas)
				}
				return
			}
			if err != nil || len(keys) != tc.keys || skipped != tc.skipped {
				t.Fatalf("ParseSet(%q) = %d keys, %d skipped, %v; want %d, %d, nil", tc.doc, len(keys), skipped, err, tc.keys, tc.skipped)
			}
		})
	}
}
