// Package redisstore is a gorilla/sessions [sessions.Store] that keeps
// session values in Redis, through github.com/redis/go-redis/v9, so that
// several instances of a site share their visitors' sessions.
//
// The cookie holds only the session ID, signed (HMAC) with
// gorilla/securecookie, as gorilla's FilesystemStore signs it; the values
// are gob-encoded in Redis under KeyPrefix+ID, with the session's MaxAge as
// their time to live. An ID that Redis no longer holds (expired, or deleted
// by a logout on another instance) is never adopted: the visitor gets a new
// session with a new ID, so a cookie planted by someone else names no
// record they can later read.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redisstore.New(client, hashKey) // the same key on every instance
//	if err != nil {
//		log.Fatal(err)
//	}
//	mw, err := chatwidget.New(id, key, chatwidget.SessionResolver(store, "session", keys))
//
// A site that logs a visitor in should call [Store.Renew] before it saves the
// logged-in session, so that an ID obtained before the login (session
// fixation) is worth nothing after it.
//
// No maintained store fitted: github.com/rbcervilla/redisstore/v9 (last
// release v9.0.0, April 2023) puts the raw ID in the cookie unsigned and
// adopts any ID a cookie names, so a planted ID becomes the victim's session.
package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the prefix of the Redis keys of the sessions, before
// their ID.
const DefaultKeyPrefix = "session:"

// minHashKey is the shortest hash key accepted: HMAC-SHA256 wants 32 bytes.
const minHashKey = 32

// idBytes is how many random bytes make a session ID.
const idBytes = 32

// Store keeps gorilla/sessions sessions in Redis. Make one with [New]; it is
// safe for concurrent use. Its exported fields follow gorilla's
// CookieStore; change them before serving.
type Store struct {
	// Codecs sign the session ID in the cookie.
	Codecs []securecookie.Codec
	// Options are the defaults of new sessions: the cookie's attributes and
	// MaxAge, which is also the time to live of the values in Redis. Use
	// [Store.MaxAge] to change MaxAge.
	Options *sessions.Options
	// KeyPrefix goes before the session ID in Redis keys. Default:
	// DefaultKeyPrefix.
	KeyPrefix string
	client    redis.UniversalClient
}

// New returns a Store that keeps sessions in client and signs their IDs
// with keyPairs, as [sessions.NewCookieStore] takes them: a hash key (at
// least 32 bytes), optionally followed by an encryption key, then older
// pairs during a key rotation. Every instance of a site must be given the
// same keys. Sessions last 30 days (see [Store.MaxAge]); their cookie is
// HttpOnly, Secure and SameSite=Lax, for the whole site.
func New(client redis.UniversalClient, keyPairs ...[]byte) (*Store, error) {
	var errs []error
	if client == nil {
		errs = append(errs, errors.New("redisstore: client is nil; pass redis.NewClient(&redis.Options{Addr: …})"))
	}
	if len(keyPairs) == 0 || len(keyPairs[0]) < minHashKey {
		errs = append(errs, fmt.Errorf("redisstore: the hash key must have at least %d bytes; generate one with `openssl rand -base64 32`", minHashKey))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Store{
		Codecs: securecookie.CodecsFromPairs(keyPairs...),
		Options: &sessions.Options{
			Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
		},
		KeyPrefix: DefaultKeyPrefix,
		client:    client,
	}
	s.MaxAge(86400 * 30)
	return s, nil
}

// MaxAge sets how many seconds sessions last: the cookie's Max-Age, the
// signed ID's validity and the values' time to live in Redis, renewed at
// each save.
func (s *Store) MaxAge(age int) {
	s.Options.MaxAge = age
	for _, c := range s.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(age)
		}
	}
}

// Get returns the session called name of r, from the request's registry
// when the request asked for it before (see [sessions.GetRegistry]).
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the session called name of r, loaded from Redis, without
// adding it to the registry. A request without the cookie, or whose ID Redis
// no longer holds, gets a new session (IsNew) and no error. A cookie whose
// signature does not verify gets a new session and the securecookie error
// (its IsDecode reports true); a Redis failure gets a new session and the
// error, so that the caller can tell the two apart.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return session, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.Codecs...); err != nil {
		return session, err
	}
	values, err := s.load(r.Context(), id)
	switch {
	case errors.Is(err, redis.Nil):
		return session, nil // expired or deleted: a new session, with a new ID
	case err != nil:
		return session, err
	}
	session.ID = id
	session.Values = values
	session.IsNew = false
	return session, nil
}

// Save stores session in Redis and sets its cookie on w. A session whose
// Options.MaxAge is zero or less is deleted from Redis, and its cookie
// deleted, gorilla's way to log out; the cookie is deleted even when Redis
// fails. A session without an ID (a new one, or one that [Store.Renew] was
// given) gets a new random ID.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	if session.Options.MaxAge <= 0 {
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
		if session.ID == "" {
			return nil
		}
		return s.delete(r.Context(), session.ID)
	}
	if session.ID == "" {
		session.ID = newID()
	}
	b, err := encodeValues(session.Values)
	if err != nil {
		return err
	}
	ttl := time.Duration(session.Options.MaxAge) * time.Second
	if err := s.client.Set(r.Context(), s.KeyPrefix+session.ID, b, ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: save session: %w", err)
	}
	encoded, err := securecookie.EncodeMulti(session.Name(), session.ID, s.Codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(session.Name(), encoded, session.Options))
	return nil
}

// Renew deletes the Redis record of session and clears its ID, keeping its
// values, so that the next [Store.Save] stores them under a new ID. Call it
// when the visitor logs in, before saving.
func (s *Store) Renew(r *http.Request, session *sessions.Session) error {
	if session.ID == "" {
		return nil
	}
	id := session.ID
	session.ID = ""
	return s.delete(r.Context(), id)
}

// load returns the values stored under id, or redis.Nil when there are none.
func (s *Store) load(ctx context.Context, id string) (map[any]any, error) {
	b, err := s.client.Get(ctx, s.KeyPrefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load session: %w", err)
	}
	values := make(map[any]any)
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&values); err != nil {
		return nil, fmt.Errorf("redisstore: decode session: %w", err)
	}
	return values, nil
}

// delete deletes the record of id.
func (s *Store) delete(ctx context.Context, id string) error {
	if err := s.client.Del(ctx, s.KeyPrefix+id).Err(); err != nil {
		return fmt.Errorf("redisstore: delete session: %w", err)
	}
	return nil
}

// encodeValues gob-encodes a session's values. A value of a type not
// registered with gob.Register is an error.
func encodeValues(values map[any]any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(values); err != nil {
		return nil, fmt.Errorf("redisstore: encode session (register custom types with gob.Register): %w", err)
	}
	return buf.Bytes(), nil
}

// newID returns a new session ID: 256 random bits, base64url.
func newID() string {
	b := make([]byte, idBytes)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
