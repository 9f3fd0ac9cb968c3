package chatwidget

import (
	"bytes"
	"crypto"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chatwidget/chatwidget/internal/jwk"
)

// publishedKeys returns the signing key first, then the others given with
// [WithPublishedKeys], without repeats.
func (m *Middleware) publishedKeys() []jwk.Published {
	keys := []jwk.Published{{Pub: m.signer.key.Public(), Kid: m.signer.kid, Alg: m.signer.method.alg}}
	for _, pub := range m.published {
		if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(keys[0].Pub) {
			continue
		}
		kid, _ := Thumbprint(pub) // New checked it
		keys = append(keys, jwk.Published{Pub: pub, Kid: kid, Alg: naturalAlg(pub, m.signer.method.alg)})
	}
	return keys
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the public keys that
// verify this middleware's tokens: the signing key first, then those given
// with [WithPublishedKeys]. Each key has kid, use "sig" and alg.
func (m *Middleware) JWKS() []byte {
	b, err := jwk.Set(m.publishedKeys())
	if err != nil {
		panic(err) // New checked every key
	}
	return b
}

// PublishedKeysPEM returns the public keys of [Middleware.JWKS] as PEM "PUBLIC
// KEY" blocks, the signing key first, each preceded by a "kid: …" line that
// PEM decoders skip.
func (m *Middleware) PublishedKeysPEM() []byte {
	var b bytes.Buffer
	for _, k := range m.publishedKeys() {
		b.WriteString("kid: " + k.Kid + "\n")
		b.Write(publicKeyPEM(k.Pub))
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

// Thumbprint returns the RFC 7638 JWK thumbprint of an RSA or P-256 ECDSA
// public key (base64url SHA-256 of its canonical JWK): the default kid of the
// tokens the key signs, and of the key in [Middleware.JWKS].
func Thumbprint(pub crypto.PublicKey) (string, error) {
	kid, err := jwk.Thumbprint(pub)
	if err != nil {
		return "", fmt.Errorf("chatwidget: %w", err)
	}
	return kid, nil
}
