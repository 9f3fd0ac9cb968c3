package site

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
)

// cspHeader is the header withCSP sets.
const cspHeader = "Content-Security-Policy"

// nonceKey is the context key of the request's CSP nonce.
type nonceKey struct{}

// cspPolicy returns the demo's policy for a response whose scripts carry
// nonce: only those scripts run, no plugins, no <base>.
func cspPolicy(nonce string) string {
	return "script-src 'nonce-" + nonce + "'; object-src 'none'; base-uri 'none'"
}

// withCSP returns next behind a strict Content-Security-Policy: each request
// gets a new nonce, which the policy names and the request's context holds
// for the handlers (see [cspNonce]). It wraps the chatwidget middleware, so
// that the middleware finds the nonce for the scripts it inserts.
func withCSP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		w.Header().Set(cspHeader, cspPolicy(nonce))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}

// newNonce returns 128 random bits, base64-encoded.
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails
	return base64.StdEncoding.EncodeToString(b)
}

// cspNonce returns the CSP nonce withCSP gave r, or "" outside withCSP.
func cspNonce(r *http.Request) string {
	n, _ := r.Context().Value(nonceKey{}).(string)
	return n
}
