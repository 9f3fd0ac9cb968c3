package widgetsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

// The reasons the verify endpoint gives for a token the vendor rejects, one
// per check. A browser test matches them exactly.
const (
	reasonMalformed   = "malformed token"
	reasonSignature   = "signature invalid"
	reasonMethod      = "unexpected signing method"
	reasonExpired     = "token expired"
	reasonNotYet      = "token not valid yet"
	reasonFuture      = "token issued in the future"
	reasonNoExp       = "missing exp"
	reasonNoIat       = "missing iat"
	reasonNoName      = "missing claim name"
	reasonNotLoggedIn = "isLoggedIn must be true"
	reasonInvalid     = "token invalid" // a jwt error none of the above covers
)

// maxVerifyBody bounds the request body of the verify endpoint; a token is a
// few kilobytes at most.
const maxVerifyBody = 64 << 10

// verifyRequest is the body the widget posts to the verify endpoint.
type verifyRequest struct {
	Widget string `json:"widget"`
	Token  string `json:"token"`
}

// verifyResponse is the verify endpoint's answer: OK and Claims, or Error.
type verifyResponse struct {
	OK     bool          `json:"ok"`
	Claims jwt.MapClaims `json:"claims,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// serveVerify serves POST {prefix}verify.
func (s *Sim) serveVerify(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, verifyResponse{Error: "method not allowed; use POST"})
		return
	}
	req, msg := readVerifyRequest(w, r)
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, verifyResponse{Error: msg})
		return
	}
	claims, reason := s.verify(req.Token)
	if reason != "" {
		writeJSON(w, http.StatusUnauthorized, verifyResponse{Error: reason})
		return
	}
	writeJSON(w, http.StatusOK, verifyResponse{OK: true, Claims: claims})
}

// readVerifyRequest decodes the request body, or returns why it cannot.
func readVerifyRequest(w http.ResponseWriter, r *http.Request) (verifyRequest, string) {
	const want = `malformed request body: want {"widget":"<widget ID>","token":"<JWT>"}`
	var req verifyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxVerifyBody))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, "malformed request body: larger than 64 KiB"
		}
		return req, want
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, want + ", and nothing after it"
	}
	if !widgetIDPattern.MatchString(req.Widget) {
		return req, "malformed request body: widget must match ^[A-Za-z0-9_-]{1,128}$"
	}
	return req, ""
}

// verify checks token as the vendor does and returns its claims, or the
// reason it is rejected.
func (s *Sim) verify(token string) (jwt.MapClaims, string) {
	claims := jwt.MapClaims{}
	t, err := s.parser.ParseWithClaims(token, claims, s.keys.keyFunc)
	if err != nil {
		return nil, reason(t, err)
	}
	if iat, _ := claims.GetIssuedAt(); iat == nil {
		return nil, reasonNoIat
	}
	if name, _ := claims["name"].(string); name == "" {
		return nil, reasonNoName
	}
	if in, _ := claims["isLoggedIn"].(bool); !in {
		return nil, reasonNotLoggedIn
	}
	return claims, ""
}

// reason maps an error of the jwt parser to the reason the vendor gives.
// The parser reports a method outside WithValidMethods as a bad signature,
// so t's method tells the two apart.
func reason(t *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrInvalidType):
		return reasonMalformed
	case errors.Is(err, errUnknownKey):
		return reasonSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable): // alg missing or unknown
		return reasonMethod
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && t.Method.Alg() != jwt.SigningMethodRS256.Alg() {
			return reasonMethod
		}
		return reasonSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing): // only exp is required
		return reasonNoExp
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYet
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reasonFuture
	}
	return reasonInvalid
}

// writeJSON writes v as the JSON answer with status code.
func writeJSON(w http.ResponseWriter, code int, v verifyResponse) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
