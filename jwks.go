package chatwidget

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// publishedKey is a public key with the kid and alg it is announced with.
type publishedKey struct {
	pub      crypto.PublicKey
	kid, alg string
}

// publishedKeys returns the signing key first, then the others given with
// [WithPublishedKeys], without repeats.
func (m *Middleware) publishedKeys() []publishedKey {
	keys := []publishedKey{{m.signer.key.Public(), m.signer.kid, m.signer.method.alg}}
	for _, pub := range m.published {
		if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(keys[0].pub) {
			continue
		}
		kid, _ := Thumbprint(pub) // New checked it
		keys = append(keys, publishedKey{pub, kid, naturalAlg(pub, m.signer.method.alg)})
	}
	return keys
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the public keys that
// verify this middleware's tokens: the signing key first, then those given
// with [WithPublishedKeys]. Each key has kid, use "sig" and alg.
func (m *Middleware) JWKS() []byte {
	b, err := jwksDocument(m.publishedKeys())
	if err != nil {
		panic(err) // New checked every key
	}
	return b
}

// PublicJWKS returns the JSON Web Key Set of RSA and P-256 ECDSA public
// keys, as [Middleware.JWKS] would publish them with the default kid (the
// [Thumbprint]): alg RS256 for RSA keys, ES256 for ECDSA keys, use "sig". A
// key given twice is listed once.
func PublicJWKS(keys ...crypto.PublicKey) ([]byte, error) {
	var set []publishedKey
	seen := map[string]bool{}
	for i, pub := range keys {
		kid, err := Thumbprint(pub)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: key %d is a %s; a JWKS holds RSA or P-256 ECDSA public keys", i+1, keyKind(pub))
		}
		if !seen[kid] {
			seen[kid] = true
			set = append(set, publishedKey{pub, kid, naturalAlg(pub, RS256)})
		}
	}
	return jwksDocument(set)
}

// jwksDocument encodes keys as an indented JWKS document.
func jwksDocument(keys []publishedKey) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		j, err := publicJWK(k.pub)
		if err != nil {
			return nil, err
		}
		j.Kid, j.Use, j.Alg = k.kid, "sig", k.alg
		set.Keys = append(set.Keys, j)
	}
	b, err := json.MarshalIndent(set, "", "  ")
	return append(b, '\n'), err
}

// PublicKeysPEM returns the public keys of [Middleware.JWKS] as PEM "PUBLIC
// KEY" blocks, the signing key first, each preceded by a "kid: …" line that
// PEM decoders skip.
func (m *Middleware) PublicKeysPEM() []byte {
	var b bytes.Buffer
	for _, k := range m.publishedKeys() {
		b.WriteString("kid: " + k.kid + "\n")
		b.Write(publicKeyPEM(k.pub))
	}
	return b.Bytes()
}

// JWKSHandler returns a handler that serves [Middleware.JWKS] to GET and HEAD
// requests (Content-Type application/jwk-set+json, cacheable by anyone for
// five minutes), so that the vendor, or any verifier, can fetch the keys
// before a rotation. Other methods get 405.
func (m *Middleware) JWKSHandler() http.Handler {
	body := m.JWKS()
	length := strconv.Itoa(len(body))
	modified := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", length)
		h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}
