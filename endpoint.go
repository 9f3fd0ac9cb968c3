package chatwidget

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// tokenResponse is the JSON body of [Middleware.TokenHandler].
type tokenResponse struct {
	LoggedIn  bool   `json:"loggedIn"`
	Token     string `json:"token,omitempty"`
	ExpiresAt int64  `json:"expiresAt,omitempty"` // Unix seconds
	WidgetID  string `json:"widgetId,omitempty"`
	Error     string `json:"error,omitempty"`
}

// TokenHandler returns a handler, to mount anywhere on the site, that answers
// the visitor's signed token as JSON, for pages that get JWT_TOKEN by AJAX
// (single-page apps, pages cached without identity) and for the refresh
// script of [WithRefresh]. The visitor and the claims are the page's: the
// same resolver, the same signer and cache.
//
// A logged-in visitor gets 200 {"loggedIn":true,"token":…,"expiresAt":…,
// "widgetId":…}; an anonymous one gets 200 {"loggedIn":false}. Responses are
// Cache-Control: no-store.
//
// GET is the method; HEAD gets the headers alone, OPTIONS gets 204 with Allow,
// others 405. No CORS headers are sent, and a token goes only to same-origin
// requests: a request whose Sec-Fetch-Site is set to anything but
// "same-origin" or "none", or (from browsers that send no fetch metadata)
// whose Origin is not this host, gets 403. The token is the visitor's
// identity for the chat: a page of another origin, or of another subdomain
// of the same site, must not be able to obtain it with the visitor's
// cookies. Requests without either header (scripts, mobile apps, old
// browsers' same-origin GETs) are served.
func (m *Middleware) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Cookie, Origin, Sec-Fetch-Site")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			writeJSON(w, r, http.StatusMethodNotAllowed, tokenResponse{Error: "method not allowed; use GET"})
			return
		}
		if !sameOrigin(r) {
			m.logs.log(r.Context(), logCrossOrigin, slog.LevelDebug, "chatwidget: token request from another origin refused",
				slog.String("origin", truncate(r.Header.Get("Origin"), 100)), slog.String("sec-fetch-site", truncate(r.Header.Get("Sec-Fetch-Site"), 40)))
			writeJSON(w, r, http.StatusForbidden, tokenResponse{Error: "cross-origin request refused"})
			return
		}
		t := m.visitorToken(r)
		if t.token == "" {
			writeJSON(w, r, http.StatusOK, tokenResponse{})
			return
		}
		writeJSON(w, r, http.StatusOK, tokenResponse{LoggedIn: true, Token: t.token, ExpiresAt: t.exp, WidgetID: m.widgetID})
	})
}

// sameOrigin reports whether r comes from a page of this origin, by its
// fetch metadata or, failing that, its Origin header.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none": // "none": typed into the address bar
		return true
	case "":
	default: // "same-site" (another subdomain) or "cross-site"
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // includes "null", a sandboxed or opaque origin
		return false
	}
	return strings.EqualFold(withoutDefaultPort(u.Host), withoutDefaultPort(r.Host))
}

// withoutDefaultPort drops :80 and :443 from a host, so that an Origin and
// a Host header written with and without them compare equal.
func withoutDefaultPort(host string) string {
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		return h
	}
	h, _ := strings.CutSuffix(host, ":80")
	return h
}

// writeJSON writes v as the JSON body of a response with status code.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(v)
}

// The names of the middleware's own endpoints under its prefix (see
// [WithEndpoints]).
const (
	tokenEndpoint  = "token"
	jwksEndpoint   = "jwks.json"
	mobileEndpoint = "mobile"
)

// ownEndpoints are the handlers of the middleware's own endpoints, made
// once by New.
type ownEndpoints struct {
	token, jwks, mobile http.Handler // mobile is nil without a mobile URL template
}

// ownEndpoint returns the handler of the middleware's own endpoint at path,
// or nil if path is not one.
func (m *Middleware) ownEndpoint(path string) http.Handler {
	rest, ok := strings.CutPrefix(path, m.endpoints)
	if !ok || m.endpoints == "" {
		return nil
	}
	switch rest {
	case tokenEndpoint:
		return m.own.token
	case jwksEndpoint:
		return m.own.jwks
	case mobileEndpoint:
		return m.own.mobile
	}
	return nil
}
