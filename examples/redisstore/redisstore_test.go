package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/redisstore"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// hashKey signs the session IDs of the tests.
var hashKey = []byte("redisstore-test-hash-key-0123456789")

// newStore returns a Store in a new redis-server, and a client of it.
func newStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	c := startRedis(t)
	s, err := redisstore.New(c, hashKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// save saves a new session named "s" with values and returns the cookie
// it set.
func save(t *testing.T, s *redisstore.Store, values map[any]any) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/login", nil)
	sess, err := s.Get(r, "s")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	w := httptest.NewRecorder()
	if err := sess.Save(r, w); err != nil {
		t.Fatalf("Save: %v", err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "s" {
		t.Fatalf("Save set cookies %v, want one named s", cs)
	}
	return cs[0]
}

// load returns the session "s" of a new request with cookie c.
func load(t *testing.T, s *redisstore.Store, c *http.Cookie) (*sessions.Session, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	return s.Get(r, "s")
}

// TestRoundTrip checks that a saved session comes back, with its values,
// on a new request, from another Store sharing the server and the key (a
// second instance), and that Redis keeps it for MaxAge.
func TestRoundTrip(t *testing.T) {
	s, c := newStore(t)
	s.MaxAge(3600)
	cookie := save(t, s, map[any]any{"name": "Alice", "uid": 1001})
	if cookie.MaxAge != 3600 || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie = %+v, want HttpOnly, Secure, SameSite=Lax, Max-Age 3600", cookie)
	}
	other, err := redisstore.New(c, hashKey)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := load(t, other, cookie)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if sess.IsNew || sess.Values["name"] != "Alice" || sess.Values["uid"] != 1001 {
		t.Errorf("loaded session IsNew %v, values %v; want the saved ones", sess.IsNew, sess.Values)
	}
	if strings.Contains(cookie.Value, sess.ID) {
		t.Errorf("cookie %q holds the session ID %q as it is, want it signed", cookie.Value, sess.ID)
	}
	keys := c.Keys(t.Context(), redisstore.DefaultKeyPrefix+"*").Val()
	if len(keys) != 1 || keys[0] != redisstore.DefaultKeyPrefix+sess.ID {
		t.Fatalf("Redis keys %v, want the session's", keys)
	}
	if ttl := c.TTL(t.Context(), keys[0]).Val(); ttl <= 3590*time.Second || ttl > time.Hour {
		t.Errorf("TTL = %v, want about an hour", ttl)
	}
}

// TestUnknownIDNotAdopted checks that a correctly signed ID that Redis does
// not hold (expired, deleted, or planted) gives a new session under a new
// ID, with no error.
func TestUnknownIDNotAdopted(t *testing.T) {
	s, c := newStore(t)
	planted, err := securecookie.EncodeMulti("s", "planted-id", s.Codecs...)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "s", Value: planted})
	sess, err := s.Get(r, "s")
	if err != nil || !sess.IsNew || sess.ID != "" {
		t.Fatalf("Get with an unknown ID = IsNew %v, ID %q, error %v; want a new session with no ID", sess.IsNew, sess.ID, err)
	}
	sess.Values["name"] = "Victim"
	if err := sess.Save(r, httptest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	if sess.ID == "planted-id" || c.Exists(t.Context(), redisstore.DefaultKeyPrefix+"planted-id").Val() != 0 {
		t.Errorf("the session was saved under the planted ID")
	}
}

// TestTamperedCookie checks that a cookie whose signature does not verify
// is a decode error, and a new session.
func TestTamperedCookie(t *testing.T) {
	s, _ := newStore(t)
	cookie := save(t, s, map[any]any{"name": "Alice"})
	for name, value := range map[string]string{
		"garbage":      "not-a-cookie",
		"other key":    mustEncode(t, []byte("another-hash-key-0123456789abcdefgh")),
		"flipped byte": flip(cookie.Value),
	} {
		t.Run(name, func(t *testing.T) {
			sess, err := load(t, s, &http.Cookie{Name: "s", Value: value})
			var se securecookie.Error
			if !errors.As(err, &se) || !se.IsDecode() {
				t.Errorf("load(%s) error = %v, want a securecookie decode error", name, err)
			}
			if sess == nil || !sess.IsNew || len(sess.Values) != 0 {
				t.Errorf("load(%s) session = %+v, want a new empty one", name, sess)
			}
		})
	}
}

// mustEncode returns the cookie value of an existing-looking ID signed with
// key.
func mustEncode(t *testing.T, key []byte) string {
	t.Helper()
	v, err := securecookie.EncodeMulti("s", "some-id", securecookie.CodecsFromPairs(key)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// flip changes the middle byte of s.
func flip(s string) string {
	b := []byte(s)
	if b[len(b)/2] == 'A' {
		b[len(b)/2] = 'B'
	} else {
		b[len(b)/2] = 'A'
	}
	return string(b)
}

// TestDeleteAndRenew checks gorilla's logout (MaxAge -1: the record goes,
// the cookie is deleted, the old cookie is worth nothing) and Renew (the
// values move to a new ID, the old record goes).
func TestDeleteAndRenew(t *testing.T) {
	s, c := newStore(t)
	cookie := save(t, s, map[any]any{"name": "Alice"})

	sess, err := load(t, s, cookie)
	if err != nil {
		t.Fatal(err)
	}
	oldID := sess.ID
	r := httptest.NewRequest("POST", "/login", nil)
	if err := s.Renew(r, sess); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := s.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	if sess.ID == oldID || c.Exists(t.Context(), redisstore.DefaultKeyPrefix+oldID).Val() != 0 {
		t.Errorf("after Renew and Save the ID is %q (was %q), the old record exists: %v", sess.ID, oldID, c.Exists(t.Context(), redisstore.DefaultKeyPrefix+oldID).Val())
	}
	if again, err := load(t, s, cookie); err != nil || !again.IsNew {
		t.Errorf("the cookie from before Renew loads IsNew %v, error %v; want a new session", again.IsNew, err)
	}
	renewed := w.Result().Cookies()[0]

	sess, err = load(t, s, renewed)
	if err != nil || sess.Values["name"] != "Alice" {
		t.Fatalf("renewed session: %v, %v", sess.Values, err)
	}
	sess.Options.MaxAge = -1
	w = httptest.NewRecorder()
	if err := s.Save(httptest.NewRequest("POST", "/logout", nil), w, sess); err != nil {
		t.Fatal(err)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout set cookies %v, want the session cookie deleted", cs)
	}
	if n := c.DBSize(t.Context()).Val(); n != 0 {
		t.Errorf("Redis holds %d keys after the logout, want 0", n)
	}
	if again, err := load(t, s, renewed); err != nil || !again.IsNew {
		t.Errorf("the cookie of a deleted session loads IsNew %v, error %v; want a new session", again.IsNew, err)
	}
}

// TestRedisDown checks that a Redis failure is an error that is not a
// decode error (so that a site can tell "log the visitor out" from "try
// later"), and a new session.
func TestRedisDown(t *testing.T) {
	up, _ := newStore(t)
	cookie := save(t, up, map[any]any{"name": "Alice"})
	down := redis.NewClient(&redis.Options{Network: "unix", Addr: t.TempDir() + "/none.sock", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	s, err := redisstore.New(down, hashKey)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := load(t, s, cookie)
	var se securecookie.Error
	if err == nil || errors.As(err, &se) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("load with Redis down: error %v, want redisstore's, not a decode error", err)
	}
	if sess == nil || !sess.IsNew {
		t.Errorf("load with Redis down: session %+v, want a new one", sess)
	}
}

// TestCancelledRequest checks that Redis is asked with the request's
// context: a request that is gone gets an error, at once.
func TestCancelledRequest(t *testing.T) {
	s, _ := newStore(t)
	cookie := save(t, s, map[any]any{"name": "Alice"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	r.AddCookie(cookie)
	if _, err := s.Get(r, "s"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled request: error %v, want context.Canceled", err)
	}
}

// TestNewErrors checks that New refuses a nil client and a short key, with
// both errors at once.
func TestNewErrors(t *testing.T) {
	_, err := redisstore.New(nil, []byte("short"))
	if err == nil || !strings.Contains(err.Error(), "client is nil") || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("New(nil, short key) error = %v, want both problems", err)
	}
	if _, err := redisstore.New(redis.NewClient(&redis.Options{})); err == nil {
		t.Errorf("New with no key = nil error, want one")
	}
}

// TestSessionResolver checks that chatwidget's SessionResolver reads the
// visitor from a Store unchanged, and that a logout in the same request
// (MaxAge -1) makes them anonymous.
func TestSessionResolver(t *testing.T) {
	s, _ := newStore(t)
	cookie := save(t, s, map[any]any{"name": "Alice Example", "uid": "u-1001"})
	res := chatwidget.SessionResolver(s, "s", chatwidget.SessionKeys{Name: "name", Subject: "uid"})
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	v, err := res.Resolve(r)
	if err != nil || v == nil || v.Name != "Alice Example" || v.Subject != "u-1001" {
		t.Fatalf("Resolve = %+v, %v; want Alice", v, err)
	}
	sess, _ := s.Get(r, "s")
	sess.Options.MaxAge = -1
	if v, err := res.Resolve(r); v != nil || err != nil {
		t.Errorf("Resolve after a logout in the request = %+v, %v; want anonymous", v, err)
	}
}
