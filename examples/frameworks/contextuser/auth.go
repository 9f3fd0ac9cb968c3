package main

import (
	"context"
	"net/http"

	"github.com/gorilla/securecookie"
)

// This file stands in for the site's own authentication: a login handler
// that sets a signed cookie, and a middleware that puts the user the cookie
// names into the request's context.

// A User is who the site's authentication found.
type User struct{ ID, Name string }

// userKey is the context key of the request's *User.
type userKey struct{}

// auth signs and reads the "auth" cookie.
type auth struct{ sc *securecookie.SecureCookie }

// newAuth returns an auth whose cookies hashKey authenticates.
func newAuth(hashKey []byte) *auth { return &auth{sc: securecookie.New(hashKey, nil)} }

// login serves POST /login: it logs in the form's name, whoever asks (a
// demo), and redirects to the home page.
func (a *auth) login(w http.ResponseWriter, r *http.Request) {
	v, err := a.sc.Encode("auth", &User{ID: "u-1001", Name: r.PostFormValue("name")})
	if err != nil {
		http.Error(w, "cannot log in", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "auth", Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// authenticate puts the user of a valid "auth" cookie into the context of
// the request that next serves.
func (a *auth) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u User
		if c, err := r.Cookie("auth"); err == nil && a.sc.Decode("auth", c.Value, &u) == nil {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, &u))
		}
		next.ServeHTTP(w, r)
	})
}
