package chatwidget

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
)

// sessionCookie logs values into a session of store and returns the cookie
// a browser would send back.
func sessionCookie(t *testing.T, store sessions.Store, values map[any]any) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/login", nil)
	s, err := store.Get(req, "sess")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		s.Values[k] = v
	}
	if err := s.Save(req, rec); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

func TestSessionResolver(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	keys := SessionKeys{Name: "name", Email: "email", Subject: "uid", Fields: map[string]string{"User ID": "uid", "Plan": "plan", "Missing": "nope"}}
	r := SessionResolver(store, "sess", keys)
	tests := []struct {
		name    string
		cookie  *http.Cookie
		want    *Visitor
		wantErr bool
	}{
		{"no cookie", nil, nil, false},
		{"logged in", sessionCookie(t, store, map[any]any{"name": "Alice", "email": "a@example.com", "uid": 1001, "plan": "Pro"}),
			&Visitor{Name: "Alice", Email: "a@example.com", Subject: "1001", Fields: map[string]any{"User ID": 1001, "Plan": "Pro"}}, false},
		{"no name", sessionCookie(t, store, map[any]any{"email": "a@example.com"}), nil, false},
		{"empty field", sessionCookie(t, store, map[any]any{"name": "Bob", "plan": ""}), &Visitor{Name: "Bob", Fields: map[string]any{}}, false},
		{"name not a string", sessionCookie(t, store, map[any]any{"name": 7}), nil, false},
		{"tampered", &http.Cookie{Name: "sess", Value: "MTYx" + strings.Repeat("A", 40)}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			got, err := r.Resolve(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Resolve error = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestSessionResolverThroughMiddleware logs in through a real cookie store
// and gets the page with the token. A cookie that cannot be decoded (garbage,
// or signed with a key since rotated) gives the anonymous widget and a debug
// record only; an error of the store itself stays an error.
func TestSessionResolverThroughMiddleware(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	keys := SessionKeys{Name: "name", Fields: map[string]string{"User ID": "uid"}}
	logs := &logBuffer{}
	debug := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTest(t, SessionResolver(store, "sess", keys), nil, WithLogger(debug), WithLogInterval(0))
	h := m.Handler(htmlHandler(page))

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(sessionCookie(t, store, map[any]any{"name": "Alice", "uid": "u-1"}))
	claims := parseToken(t, tokenIn(t, serve(h, req).Body.String()))
	if claims["name"] != "Alice" || claims["User ID"] != "u-1" {
		t.Errorf("claims = %v, want Alice and u-1", claims)
	}

	rotated := sessions.NewCookieStore([]byte("another key, since rotated away."))
	for _, tc := range []struct {
		name string
		c    *http.Cookie
	}{
		{"garbage", &http.Cookie{Name: "sess", Value: "garbage"}},
		{"rotated", sessionCookie(t, rotated, map[any]any{"name": "Alice"})},
	} {
		name, c := tc.name, tc.c
		before := len(logs.String())
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		body := serve(h, req).Body.String()
		if strings.Contains(body, "done(") || !strings.Contains(body, "data-chatwidget") {
			t.Errorf("%s cookie: page = %q, want the anonymous widget", name, body)
		}
		got := logs.String()[before:]
		if strings.Count(got, "level=") != 1 || !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "cannot be decoded") {
			t.Errorf("%s cookie: log = %q, want one debug record", name, got)
		}
	}

	failing := newTest(t, SessionResolver(failingStore{}, "sess", keys), nil, WithLogger(debug))
	before := len(logs.String())
	serve(failing.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
	if got := logs.String()[before:]; !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "backend down") {
		t.Errorf("store error: log = %q, want an error record", got)
	}
}

// failingStore is a session store whose backend is down.
type failingStore struct{ sessions.Store }

func (failingStore) Get(*http.Request, string) (*sessions.Session, error) {
	return nil, errors.New("backend down")
}

// sessionUser is a struct that a site keeps in its session under one key.
type sessionUser struct {
	ID   int
	Name string
	Plan string
}

// userVisitor is a function for SessionResolverFunc over sessions that hold
// a *sessionUser under "user". It counts its calls in *calls and fails for
// the user named "fail".
func userVisitor(calls *int) func(*http.Request, *sessions.Session) (*Visitor, error) {
	return func(r *http.Request, s *sessions.Session) (*Visitor, error) {
		*calls++
		u, ok := s.Values["user"].(*sessionUser)
		if !ok {
			return nil, nil
		}
		if u.Name == "fail" {
			return nil, errors.New("user database down")
		}
		plan, _ := r.Context().Value(planKey{}).(string) // r is the request being resolved
		return &Visitor{Name: u.Name, Subject: fmt.Sprint(u.ID), Fields: map[string]any{"Plan": plan}}, nil
	}
}

// planKey is the context key of the plan a test request carries.
type planKey struct{}

func TestSessionResolverFunc(t *testing.T) {
	gob.Register(&sessionUser{})
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	rotated := sessions.NewCookieStore([]byte("another key, since rotated away."))
	alice := map[any]any{"user": &sessionUser{ID: 1001, Name: "Alice"}}
	tests := []struct {
		name       string
		store      sessions.Store
		cookie     *http.Cookie
		logout     bool // the handler deletes the session before Resolve
		want       *Visitor
		wantCalls  int
		wantErr    string // "": no error
		wantDecode bool   // the error is an *undecodableSessionError
	}{
		{name: "no cookie", store: store, wantCalls: 1},
		{name: "struct value", store: store, cookie: sessionCookie(t, store, alice),
			want: &Visitor{Name: "Alice", Subject: "1001", Fields: map[string]any{"Plan": "Pro"}}, wantCalls: 1},
		{name: "other keys only", store: store, cookie: sessionCookie(t, store, map[any]any{"name": "Alice"}), wantCalls: 1},
		{name: "function fails", store: store, cookie: sessionCookie(t, store, map[any]any{"user": &sessionUser{Name: "fail"}}),
			wantCalls: 1, wantErr: `session "sess": user database down`},
		{name: "deleted by the handler", store: store, cookie: sessionCookie(t, store, alice), logout: true},
		{name: "tampered", store: store, cookie: &http.Cookie{Name: "sess", Value: "MTYx" + strings.Repeat("A", 40)},
			wantErr: `session "sess": cookie cannot be decoded`, wantDecode: true},
		{name: "signed with a rotated key", store: store, cookie: sessionCookie(t, rotated, alice),
			wantErr: `session "sess": cookie cannot be decoded`, wantDecode: true},
		{name: "store fails", store: failingStore{}, cookie: sessionCookie(t, store, alice), wantErr: `session "sess": backend down`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			r := SessionResolverFunc(tc.store, "sess", userVisitor(&calls))
			req := httptest.NewRequest("GET", "/", nil)
			req = req.WithContext(context.WithValue(req.Context(), planKey{}, "Pro"))
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			if tc.logout {
				s, err := tc.store.Get(req, "sess")
				if err != nil {
					t.Fatal(err)
				}
				s.Options.MaxAge = -1
			}
			got, err := r.Resolve(req)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)) {
				t.Fatalf("Resolve error = %v, want %q", err, tc.wantErr)
			}
			var undecodable *undecodableSessionError
			if errors.As(err, &undecodable) != tc.wantDecode {
				t.Errorf("Resolve error = %#v, want an *undecodableSessionError: %v", err, tc.wantDecode)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Resolve = %+v, want %+v", got, tc.want)
			}
			if calls != tc.wantCalls {
				t.Errorf("f called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// TestSessionResolverFuncNil checks that a nil function gives a nil
// Resolver, which New rejects at configuration time.
func TestSessionResolverFuncNil(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	r := SessionResolverFunc(store, "sess", nil)
	if r != nil {
		t.Fatalf("SessionResolverFunc(store, name, nil) = %v, want nil", r)
	}
	if _, err := New("w1", KeyPEM(testKeyPEM(t)), r); err == nil || !strings.Contains(err.Error(), "resolver is nil") {
		t.Errorf("New with SessionResolverFunc(store, name, nil): error = %v, want resolver is nil", err)
	}
}

// TestSessionResolverFuncThroughMiddleware serves pages to the sessions of
// TestSessionResolverFunc: a struct session gets its token; an undecodable
// cookie the anonymous widget and one debug record; an error of the
// function the anonymous widget and one error record.
func TestSessionResolverFuncThroughMiddleware(t *testing.T) {
	gob.Register(&sessionUser{})
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	rotated := sessions.NewCookieStore([]byte("another key, since rotated away."))
	logs := &logBuffer{}
	debug := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	calls := 0
	m := newTest(t, SessionResolverFunc(store, "sess", userVisitor(&calls)), nil, WithLogger(debug), WithLogInterval(0))
	h := m.Handler(htmlHandler(page))
	tests := []struct {
		name     string
		cookie   *http.Cookie
		wantName string // the token's name claim; "": the anonymous widget
		wantLog  string // what the one record must contain; "": no record
	}{
		{"struct session", sessionCookie(t, store, map[any]any{"user": &sessionUser{ID: 7, Name: "Alice"}}), "Alice", ""},
		{"garbage", &http.Cookie{Name: "sess", Value: "garbage"}, "", "level=DEBUG"},
		{"rotated", sessionCookie(t, rotated, map[any]any{"user": &sessionUser{Name: "Alice"}}), "", "level=DEBUG"},
		{"function fails", sessionCookie(t, store, map[any]any{"user": &sessionUser{Name: "fail"}}), "", "level=ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(tc.cookie)
			body := serve(h, req).Body.String()
			if tc.wantName != "" {
				if claims := parseToken(t, tokenIn(t, body)); claims["name"] != tc.wantName || claims["sub"] != "7" {
					t.Errorf("claims = %v, want name %q and sub 7", claims, tc.wantName)
				}
			} else if strings.Contains(body, "done(") || !strings.Contains(body, "data-chatwidget") {
				t.Errorf("page = %q, want the anonymous widget", body)
			}
			got := logs.String()[before:]
			if tc.wantLog == "" && got != "" || tc.wantLog != "" && (strings.Count(got, "level=") != 1 || !strings.Contains(got, tc.wantLog)) {
				t.Errorf("log = %q, want one record with %q", got, tc.wantLog)
			}
		})
	}
}

// TestLogoutPageIsAnonymous checks that a page rendered by the request that
// deletes the session does not carry the old identity.
func TestLogoutPageIsAnonymous(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	m := newTest(t, SessionResolver(store, "sess", SessionKeys{Name: "name"}), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "sess")
		s.Options.MaxAge = -1
		s.Save(r, w)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	req := httptest.NewRequest("POST", "/logout", nil)
	req.AddCookie(sessionCookie(t, store, map[any]any{"name": "Alice"}))
	if body := serve(h, req).Body.String(); strings.Contains(body, "done(") {
		t.Errorf("logout page carries a token: %s", body)
	}
}
