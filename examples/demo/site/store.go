package site

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/redisstore"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// sessionMaxAge is how long a demo session lasts, in seconds.
const sessionMaxAge = 8 * 60 * 60

// redisTimeout bounds the demo's first PING of Redis.
const redisTimeout = 5 * time.Second

// setSessionOptions gives the demo's session options to o: HttpOnly,
// SameSite=Lax, not Secure.
func setSessionOptions(o *sessions.Options) {
	o.HttpOnly = true
	o.SameSite = http.SameSiteLaxMode
	// gorilla/sessions defaults to Secure, which browsers honour over plain
	// HTTP only on localhost; the demo serves plain HTTP on any -addr. A real
	// site behind HTTPS keeps Secure.
	o.Secure = false
}

// newSessionStore returns the cookie store of the demo's sessions, signed
// with key, or with 32 random bytes when key is empty.
func newSessionStore(key []byte) (*sessions.CookieStore, error) {
	switch {
	case len(key) == 0:
		key = make([]byte, minSessionKey)
		rand.Read(key) // never fails
	case len(key) < minSessionKey:
		return nil, errShortSessionKey(len(key))
	}
	store := sessions.NewCookieStore(key)
	setSessionOptions(store.Options)
	store.MaxAge(sessionMaxAge)
	return store, nil
}

// errShortSessionKey is the error for a CHATWIDGET_SESSION_KEY of n
// characters, fewer than minSessionKey.
func errShortSessionKey(n int) error {
	return fmt.Errorf("CHATWIDGET_SESSION_KEY has %d characters, fewer than %d; generate one with `openssl rand -base64 32`", n, minSessionKey)
}

// openRedisStore connects to the Redis server at addr (host:port, or a URL
// such as redis://host:port/0 or unix:///run/redis.sock), checks that it
// answers, and returns a session store in it whose IDs are signed with key,
// and a function that closes the connection. Every instance of the demo
// that shares the Redis server must share key, so key is required.
func openRedisStore(ctx context.Context, addr string, key []byte) (sessions.Store, func() error, error) {
	if len(key) == 0 {
		return nil, nil, errors.New("-redis needs CHATWIDGET_SESSION_KEY: every instance must sign session IDs with the same key; generate one with `openssl rand -base64 32`")
	}
	if len(key) < minSessionKey {
		return nil, nil, errShortSessionKey(len(key))
	}
	opts := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if opts, err = redis.ParseURL(addr); err != nil {
			return nil, nil, fmt.Errorf("-redis %q: %w", addr, err)
		}
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("-redis %q does not answer: %w; start redis-server or fix the address", addr, err)
	}
	store, err := redisstore.New(client, key)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	setSessionOptions(store.Options)
	store.MaxAge(sessionMaxAge)
	return store, client.Close, nil
}

// loadPublished returns the public keys in the PEM files at paths, for
// chatwidget.WithPublishedKeys.
func loadPublished(paths []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("-publish: %w", err)
		}
		k, err := chatwidget.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("-publish %s: %w", p, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// A renewer is a session store that keeps sessions on the server and can
// give a session a new ID (redisstore.Store); the demo renews the ID at each
// login, so that an ID obtained before it is worth nothing after it.
type renewer interface {
	Renew(r *http.Request, s *sessions.Session) error
}

// isDecodeError reports whether err says that a session cookie could not be
// decoded (signed with another key, tampered with, too old), rather than
// that the store failed.
func isDecodeError(err error) bool {
	var e securecookie.Error
	return errors.As(err, &e) && e.IsDecode()
}
