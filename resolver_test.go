package chatwidget

import (
	"errors"
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
	for name, c := range map[string]*http.Cookie{
		"garbage": {Name: "sess", Value: "garbage"},
		"rotated": sessionCookie(t, rotated, map[any]any{"name": "Alice"}),
	} {
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
