package chatwidget

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"
)

// A Visitor is a logged-in visitor as the chat vendor sees them.
type Visitor struct {
	// Name is shown to the support agent; it is required; a Visitor with
	// an empty Name is treated as anonymous.
	Name string
	// Email is sent only when it is not empty.
	Email string
	// Subject, when not empty, becomes the sub claim (the site's stable
	// user ID).
	Subject string
	// Fields are extra data shown to the agent, each key a label ("User ID",
	// "Telephone"). Values must be strings, bools or numbers (json.Number
	// too); others are logged and dropped. A key that would overwrite name, isLoggedIn,
	// email or a registered JWT claim (iss, sub, aud, exp, nbf, iat, jti) is
	// logged and dropped.
	Fields map[string]any
}

// A Resolver tells the middleware who the visitor of a request is.
//
// Resolve returns nil, nil for an anonymous visitor. An error or a panic is
// logged and the page is served as for an anonymous visitor. Resolve is called
// only when an HTML page is about to get the widget, at most once per
// response, with the request whose context the server cancels when the
// client goes away.
type Resolver interface {
	Resolve(r *http.Request) (*Visitor, error)
}

// ResolverFunc adapts a function to a [Resolver].
type ResolverFunc func(r *http.Request) (*Visitor, error)

// Resolve calls f(r).
func (f ResolverFunc) Resolve(r *http.Request) (*Visitor, error) { return f(r) }

// SessionKeys says which values of a gorilla/sessions session hold the
// visitor's data. A key is the session's Values key (a string).
type SessionKeys struct {
	// Name is the key of the visitor's display name. Required: a session
	// without a non-empty string under it is anonymous.
	Name string
	// Email is the key of the visitor's email, if any.
	Email string
	// Subject is the key of the site's user ID, sent as sub, if any.
	Subject string
	// Fields maps each label the agent sees to the session key of its value,
	// e.g. {"User ID": "uid", "Telephone": "phone"}. A value that is missing,
	// nil or the empty string is left out.
	Fields map[string]string
}

// SessionResolver returns a [Resolver] that reads the visitor from the
// session called name in store, using keys to map the session's values to
// the claims. A visitor with no session, or whose session has no name, is
// anonymous, and so is one whose session the handler has just deleted
// (Options.MaxAge < 0, gorilla's way to log out), so that a logout page does
// not carry the old identity.
//
// A session cookie that cannot be decoded (garbage, a tampered cookie, or
// one signed with a key since rotated, the state of every cookie after a
// rotation) is anonymous: Resolve returns an error that says so, which the
// middleware logs at debug level only, since any visitor can send one. Other
// errors of the store (a backend that is down) are logged as errors.
func SessionResolver(store sessions.Store, name string, keys SessionKeys) Resolver {
	return SessionResolverFunc(store, name, func(_ *http.Request, s *sessions.Session) (*Visitor, error) {
		return keys.visitor(s.Values)
	})
}

// SessionResolverFunc returns a [Resolver] that loads the session called
// name from store and asks f who its visitor is, for sessions that
// [SessionKeys] cannot map: a struct under one key (a gob-encoded *User, for
// which the site calls gob.Register), or a user ID that f looks up in the
// site's database with r's context. f returns nil, nil for an anonymous
// visitor, and gets r so that a lookup ends when the client goes away.
//
// It treats the session as [SessionResolver] does: f is not called for a
// session that the handler has just deleted (Options.MaxAge < 0: anonymous),
// nor for a cookie that cannot be decoded (anonymous, with an error that the
// middleware logs at debug level only), nor when the store fails (an error,
// logged as one). An error of f is logged as an error, with the session's
// name. If f is nil, SessionResolverFunc returns nil, which [New] rejects.
func SessionResolverFunc(store sessions.Store, name string, f func(r *http.Request, s *sessions.Session) (*Visitor, error)) Resolver {
	if f == nil {
		return nil
	}
	return ResolverFunc(func(r *http.Request) (*Visitor, error) {
		s, err := store.Get(r, name)
		var decode interface{ IsDecode() bool } // securecookie's errors, single or multiple
		if errors.As(err, &decode) && decode.IsDecode() {
			return nil, &undecodableSessionError{name: name, err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("session %q: %w", name, err)
		}
		if s.Options != nil && s.Options.MaxAge < 0 {
			return nil, nil // deleted by this request: logged out
		}
		v, err := f(r, s)
		if err != nil {
			return nil, fmt.Errorf("session %q: %w", name, err)
		}
		return v, nil
	})
}

// An undecodableSessionError is a session cookie that cannot be decoded:
// the visitor is anonymous, and it is no failure of the site.
type undecodableSessionError struct {
	name string
	err  error
}

func (e *undecodableSessionError) Error() string {
	return fmt.Sprintf("session %q: cookie cannot be decoded: %v", e.name, e.err)
}

func (e *undecodableSessionError) Unwrap() error { return e.err }

// visitor maps session values to a Visitor.
func (k SessionKeys) visitor(values map[any]any) (*Visitor, error) {
	name, _ := values[k.Name].(string)
	if name == "" {
		return nil, nil
	}
	v := &Visitor{Name: name}
	if k.Email != "" {
		v.Email, _ = values[k.Email].(string)
	}
	if k.Subject != "" {
		if s, ok := values[k.Subject]; ok && s != nil {
			v.Subject = fmt.Sprint(s)
		}
	}
	if len(k.Fields) > 0 {
		v.Fields = make(map[string]any, len(k.Fields))
		for label, key := range k.Fields {
			if val, ok := values[key]; ok && val != nil && val != "" {
				v.Fields[label] = val
			}
		}
	}
	return v, nil
}
