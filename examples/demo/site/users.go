package site

import (
	"encoding/json"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
)

// sessionName is the name of the demo's session cookie.
const sessionName = "demo"

// A User is one of the demo's accounts.
type User struct {
	Login string `json:"login"`           // the login form's value
	Name  string `json:"name"`            // display name
	Email string `json:"email,omitempty"` // empty: none known
	ID    string `json:"id"`              // the site's user ID
	Plan  string `json:"plan,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// demoUsers returns the accounts one can log in as, in the login form's order.
func demoUsers() []User {
	return []User{
		{Login: "alice", Name: "Alice Example", Email: "alice@example.com", ID: "u-1001", Plan: "Pro"},
		{Login: "bob", Name: "Bob Sample", ID: "u-2002", Phone: "+1 555 0100"},
	}
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
func (u User) saveTo(s *sessions.Session) {
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
	User     *User `json:"user,omitempty"`
}

// meJSON returns the body of GET /api/me for u (nil: anonymous).
func meJSON(u *User) ([]byte, error) {
	b, err := json.Marshal(meResponse{LoggedIn: u != nil, User: u})
	return append(b, '\n'), err
}
