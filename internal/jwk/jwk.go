// Package jwk encodes public keys as JSON Web Keys (RFC 7517) and key sets,
// and computes their RFC 7638 thumbprints.
package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// JWK is a JSON Web Key (RFC 7517) for a public key.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// Of returns the JWK of pub, without kid, use or alg.
func Of(pub crypto.PublicKey) (JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return JWK{}, errors.New("only P-256 ECDSA keys have a JWK here")
		}
		b, err := k.Bytes() // 0x04 || X || Y
		if err != nil {
			return JWK{}, err
		}
		return JWK{Kty: "EC", Crv: "P-256", X: b64(b[1:33]), Y: b64(b[33:])}, nil
	}
	return JWK{}, fmt.Errorf("no JWK for a %T", pub)
}

// Thumbprint returns the RFC 7638 thumbprint of an RSA or P-256 ECDSA
// public key: the base64url SHA-256 of its canonical JWK.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := Of(pub)
	if err != nil {
		return "", err
	}
	// The members that RFC 7638 requires, in lexicographic order, no spaces.
	var canonical []byte
	switch k.Kty {
	case "RSA":
		canonical, err = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{k.E, k.Kty, k.N})
	case "EC":
		canonical, err = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{k.Crv, k.Kty, k.X, k.Y})
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Published is a public key with the kid and alg a key set announces it with.
type Published struct {
	Pub      crypto.PublicKey
	Kid, Alg string
}

// Set returns the indented JWKS document of keys, each with use "sig", and a
// final newline.
func Set(keys []Published) ([]byte, error) {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range keys {
		j, err := Of(k.Pub)
		if err != nil {
			return nil, err
		}
		j.Kid, j.Use, j.Alg = k.Kid, "sig", k.Alg
		set.Keys = append(set.Keys, j)
	}
	b, err := json.MarshalIndent(set, "", "  ")
	return append(b, '\n'), err
}
