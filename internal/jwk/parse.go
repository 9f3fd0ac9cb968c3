package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// PublicKey returns the public key of k: an *rsa.PublicKey for kty "RSA", an
// *ecdsa.PublicKey for kty "EC" on P-256. Other key types and curves, and
// members that do not decode to a valid key, are errors.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		return k.rsa()
	case "EC":
		return k.ec()
	case "":
		return nil, errors.New("key has no kty")
	}
	return nil, fmt.Errorf("key type %q has no signature algorithm here; use RSA or EC", k.Kty)
}

func (k JWK) rsa() (*rsa.PublicKey, error) {
	n, err := member("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := member("e", k.E)
	if err != nil {
		return nil, err
	}
	if n[0] == 0 || e[0] == 0 {
		return nil, errors.New("RSA key: n and e must have no leading zero bytes")
	}
	ei := new(big.Int).SetBytes(e)
	if !ei.IsInt64() || ei.Int64() < 3 || ei.Int64() > 1<<31-1 || ei.Bit(0) == 0 {
		return nil, errors.New("RSA key: e must be an odd number from 3 to 2^31-1")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}, nil
}

func (k JWK) ec() (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("EC key on curve %q; only P-256 has a signature algorithm here (ES256)", k.Crv)
	}
	x, err := member("x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := member("y", k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("P-256 key: x and y must be 32 bytes each")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("P-256 key: %w", err)
	}
	return pub, nil
}

// member decodes the base64url member name of a key.
func member(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("key has no %q", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key member %q is not base64url without padding: %w", name, err)
	}
	return b, nil
}

// ParseSet decodes a JWKS document (RFC 7517, section 5) into the keys that
// verify signatures, each with its kid and alg as the set announces them:
// RSA keys and P-256 EC keys whose use is "sig" or not given. It skips, and
// counts in skipped, keys of other types or curves and keys for encryption.
// A document that is not a key set, or a key it would take that does not
// decode, is an error.
func ParseSet(b []byte) (keys []Published, skipped int, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, 0, fmt.Errorf("not a JWKS: %w", err)
	}
	if set.Keys == nil {
		return nil, 0, errors.New(`not a JWKS: no "keys" array`)
	}
	for i, raw := range set.Keys {
		var k JWK
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, 0, fmt.Errorf("key %d: %w", i, err)
		}
		if k.Use != "" && k.Use != "sig" || k.Kty != "RSA" && k.Kty != "EC" || k.Kty == "EC" && k.Crv != "P-256" {
			skipped++
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, 0, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err)
		}
		keys = append(keys, Published{Pub: pub, Kid: k.Kid, Alg: k.Alg})
	}
	return keys, skipped, nil
}
