package cluster

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSessionsAcrossInstances runs two instances of the demo, separate
// processes sharing one redis-server and one key: a visitor logs in through
// A and is known on B, in the page's token and in /api/me; logs out through
// B and is anonymous on both; and the session cookie they had, replayed,
// is worth nothing any more, on either, since the session is gone from
// Redis.
func TestSessionsAcrossInstances(t *testing.T) {
	r, demos := startInstances(t, 2, nil)
	a, b := demos[0], demos[1]
	ks := fetchJWKS(t, b.URL)
	alice := userIdentity("alice")
	v := newVisitor(nil)

	v.login(t, a.URL, "alice")
	for _, d := range demos {
		_, body := v.get(t, d.URL+"/")
		if _, err := checkPage(body, &alice, ks, time.Now()); err != nil {
			t.Errorf("GET / through %s after a login through %s: %v", d.Addr, a.Addr, err)
		}
		if got := me(t, v, d.URL); got != "alice" {
			t.Errorf("/api/me through %s = %q, want alice", d.Addr, got)
		}
	}
	if n := r.Client(t).DBSize(t.Context()).Val(); n != 1 {
		t.Errorf("Redis holds %d keys after one login, want 1", n)
	}
	stolen := sessionCookie(t, v, a.URL)

	v.logout(t, b.URL)
	for _, d := range demos {
		_, body := v.get(t, d.URL+"/")
		if _, err := checkPage(body, nil, ks, time.Now()); err != nil {
			t.Errorf("GET / through %s after a logout through %s: %v", d.Addr, b.Addr, err)
		}
		if got := me(t, v, d.URL); got != "" {
			t.Errorf("/api/me through %s = %q, want anonymous", d.Addr, got)
		}
	}
	if n := r.Client(t).DBSize(t.Context()).Val(); n != 0 {
		t.Errorf("Redis holds %d keys after the logout, want 0", n)
	}

	// The cookie of the ended session, replayed by whoever copied it.
	replay := newVisitor(nil)
	for _, d := range demos {
		u, _ := url.Parse(d.URL)
		replay.c.Jar.SetCookies(u, []*http.Cookie{stolen})
		_, body := replay.get(t, d.URL+"/")
		if _, err := checkPage(body, nil, ks, time.Now()); err != nil {
			t.Errorf("GET / through %s with the cookie of a session ended by a logout: %v", d.Addr, err)
		}
	}
}

// TestSessionRenewedAtLogin checks that a login gives the visitor a new
// session ID (the store keeps sessions on the server, so an ID known before
// the login must be worth nothing after it): the ID a visitor had before
// logging in, replayed, is anonymous; the one they had as Alice, replayed
// after they logged in as Bob, is anonymous too.
func TestSessionRenewedAtLogin(t *testing.T) {
	r, demos := startInstances(t, 2, nil)
	a, b := demos[0], demos[1]
	ks := fetchJWKS(t, a.URL)
	v := newVisitor(nil)
	v.login(t, a.URL, "alice")
	asAlice := sessionCookie(t, v, a.URL)
	v.login(t, b.URL, "bob")
	asBob := sessionCookie(t, v, a.URL)
	if asAlice.Value == asBob.Value {
		t.Fatalf("the session cookie did not change at the second login")
	}
	if n := r.Client(t).DBSize(t.Context()).Val(); n != 1 {
		t.Errorf("Redis holds %d keys after two logins of one visitor, want 1", n)
	}
	bob := userIdentity("bob")
	_, body := v.get(t, a.URL+"/")
	if _, err := checkPage(body, &bob, ks, time.Now()); err != nil {
		t.Errorf("GET / after logging in as Bob: %v", err)
	}
	replay := newVisitor(nil)
	u, _ := url.Parse(b.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{asAlice})
	_, body = replay.get(t, b.URL+"/")
	if _, err := checkPage(body, nil, ks, time.Now()); err != nil {
		t.Errorf("GET / with Alice's session cookie after the visitor logged in as Bob: %v", err)
	}
}

// me returns the login /api/me names through base for v, "" for anonymous.
func me(t testing.TB, v *visitor, base string) string {
	t.Helper()
	_, b := v.get(t, base+"/api/me")
	login, err := meLogin(b)
	if err != nil {
		t.Fatal(err)
	}
	return login
}

// sessionCookie returns v's session cookie for base.
func sessionCookie(t testing.TB, v *visitor, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == "demo" {
			return c
		}
	}
	t.Fatalf("no session cookie for %s", base)
	return nil
}

// TestCheckPageCatches checks the checks: checkPage refuses a page of
// Alice's for Bob or for nobody, an anonymous page for Alice, a page with a
// second snippet, a token whose key the key set does not hold, and a token
// past its exp.
func TestCheckPageCatches(t *testing.T) {
	_, demos := startInstances(t, 1, nil)
	d := demos[0]
	ks := fetchJWKS(t, d.URL)
	alice, bob := userIdentity("alice"), userIdentity("bob")
	anon, va := newVisitor(nil), newVisitor(nil)
	_, anonPage := anon.get(t, d.URL+"/about")
	va.login(t, d.URL, "alice")
	_, alicePage := va.get(t, d.URL+"/about")
	tok, err := checkPage(alicePage, &alice, ks, time.Now())
	if err != nil {
		t.Fatalf("Alice's own page: %v", err)
	}
	claims, err := ks.verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	exp, _ := claims.GetExpirationTime()
	// The snippet is the page's only scripts, right before </body>.
	p := string(alicePage)
	i, j := strings.Index(p, "<script"), strings.Index(p, "</body>")
	twice := p[:j] + p[i:j] + p[j:]
	tests := []struct {
		name string
		page []byte
		want *identity
		ks   keySet
		at   time.Time
	}{
		{"Alice's page for Bob", alicePage, &bob, ks, time.Now()},
		{"Alice's page for nobody", alicePage, nil, ks, time.Now()},
		{"an anonymous page for Alice", anonPage, &alice, ks, time.Now()},
		{"two snippets", []byte(twice), &alice, ks, time.Now()},
		{"an unknown key", alicePage, &alice, keySet{}, time.Now()},
		{"after exp", alicePage, &alice, ks, exp.Add(time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := checkPage(tc.page, tc.want, tc.ks, tc.at); err == nil {
				t.Errorf("checkPage(%s) = nil error, want one", tc.name)
			}
		})
	}
}
