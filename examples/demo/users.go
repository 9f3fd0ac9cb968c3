package main

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
)

// sessionName is the name of the demo's session cookie.
const sessionName = "demo"

// A user is one of the demo's accounts.
type user struct {
	Login string `json:"login"`           // the login form's value
	Name  string `json:"name"`            // display name
	Email string `json:"email,omitempty"` // empty: none known
	ID    string `json:"id"`              // the site's user ID
	Plan  string `json:"plan,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// demoUsers returns the accounts one can log in as, in the login form's order.
func demoUsers() []user {
	return []user{
		{Login: "alice", Name: "Alice Example", Email: "alice@example.com", ID: "u-1001", Plan: "Pro"},
		{Login: "bob", Name: "Bob Sample", ID: "u-2002", Phone: "+1 555 0100"},
	}
}

// soakPrefix starts the logins of the load-test accounts.
const soakPrefix = "soak-"

// soakUser returns the load-test account called login, soak-N with N below
// n written without leading zeros, or nil: "Soak User N", soak-N@example.test,
// user ID u-soak-N.
func soakUser(login string, n int) *user {
	digits, ok := strings.CutPrefix(login, soakPrefix)
	if !ok {
		return nil
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != digits {
		return nil
	}
	return &user{Login: login, Name: "Soak User " + digits, Email: login + "@example.test", ID: "u-" + login}
}

// sessionKeys says where the session keeps what the chat vendor is told.
// Values that are absent from a session (Bob has no plan) are left out of
// the token.
func sessionKeys() chatwidget.SessionKeys {
	return chatwidget.SessionKeys{
		Name:    "name",
		Email:   "email",
		Subject: "uid",
		Fields: map[string]string{
			"User ID":   "uid",
			"Plan":      "plan",
			"Telephone": "phone",
		},
	}
}

// saveTo replaces the values of s with u's, under the keys of [sessionKeys]
// plus "login".
func (u user) saveTo(s *sessions.Session) {
	clear(s.Values)
	s.Values["login"] = u.Login
	s.Values["name"] = u.Name
	s.Values["uid"] = u.ID
	for k, v := range map[string]string{"email": u.Email, "plan": u.Plan, "phone": u.Phone} {
		if v != "" {
			s.Values[k] = v
		}
	}
}

// meResponse is the body of GET /api/me.
type meResponse struct {
	LoggedIn bool  `json:"loggedIn"`
	User     *user `json:"user,omitempty"`
}

// meJSON returns the body of GET /api/me for u (nil: anonymous).
func meJSON(u *user) ([]byte, error) {
	b, err := json.Marshal(meResponse{LoggedIn: u != nil, User: u})
	return append(b, '\n'), err
}
