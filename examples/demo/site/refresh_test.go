package site

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/golang-jwt/jwt/v5"
)

// newRefreshSite returns the app with tokens valid for ttl and, when refresh
// is set, the refresh script, logging to logs, with the stand-in vendor
// given simOpts.
func newRefreshSite(t *testing.T, ttl time.Duration, refresh bool, logs io.Writer, simOpts ...widgetsim.Option) *testSite {
	t.Helper()
	return newTestApp(t, appConfig{
		WidgetID:   testWidgetID,
		Key:        testKey(),
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		TTL:        ttl,
		Refresh:    refresh,
		SimOptions: simOpts,
	})
}

// refreshScripts returns the scripts of page that are chatwidget's refresh
// script for the demo's token endpoint.
func refreshScripts(page []byte) []script {
	var out []script
	for _, s := range scripts(page) {
		if strings.Contains(s.text, `"endpoint":"`+tokenPath+`"`) {
			out = append(out, s)
		}
	}
	return out
}

// tokenAnswer is the JSON of the token endpoint.
type tokenAnswer struct {
	LoggedIn  bool   `json:"loggedIn"`
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expiresAt"`
	WidgetID  string `json:"widgetId"`
	Error     string `json:"error"`
}

// isTokenAnswer returns a check that the response is the token endpoint's
// answer: for want, a token of want's that verifies with the site's key
// and expires at expiresAt; for nil, nobody logged in.
func isTokenAnswer(s *testSite, want *visitor) check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", res.StatusCode, body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		var got tokenAnswer
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if want == nil {
			if got != (tokenAnswer{}) {
				t.Errorf("answer = %+v, want only loggedIn false", got)
			}
			return
		}
		if !got.LoggedIn || got.WidgetID != testWidgetID {
			t.Errorf("answer = %+v, want loggedIn and widget %q", got, testWidgetID)
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(got.Token, claims, func(*jwt.Token) (any, error) { return parsePublicKey(t, s.PublicKey), nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt()); err != nil {
			t.Fatalf("token does not verify: %v", err)
		}
		checkClaims(t, claims, *want)
		if exp, _ := claims.GetExpirationTime(); exp == nil || exp.Unix() != got.ExpiresAt {
			t.Errorf("expiresAt = %d, want the token's exp %v", got.ExpiresAt, exp)
		}
	}
}

// TestTokenEndpoint checks the token endpoint the demo mounts whether or not
// the refresh script is on: nobody, Alice, nobody after logout, and a
// cross-site request refused.
func TestTokenEndpoint(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		t.Run("refresh "+strconv.FormatBool(refresh), func(t *testing.T) {
			var logs syncBuffer
			s := newRefreshSite(t, 0, refresh, &logs)
			base, c := newTestClient(t, s)
			alice := aliceVisitor
			steps := []step{
				get(tokenPath, isTokenAnswer(s, nil)),
				loginAs("alice"),
				get(tokenPath, isTokenAnswer(s, &alice)),
				{method: http.MethodGet, path: tokenPath, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, checks: []check{hasStatus(http.StatusForbidden), hasNo("eyJ")}},
				logout(),
				get(tokenPath, isTokenAnswer(s, nil)),
			}
			for i, st := range steps {
				res, body := st.do(t, c, base)
				for _, chk := range st.checks {
					chk(t, res, body)
				}
				if t.Failed() {
					t.Fatalf("step %d (%s %s) failed", i, st.method, st.path)
				}
			}
			// A cross-origin token request is any site's to make: logged at
			// debug, not as a problem.
			if got, want := problems(logs.String()), []string(nil); !matchAll(got, want) {
				t.Errorf("the app logged %q, want records containing %q", got, want)
			}
		})
	}
}

// TestRefreshPages checks that with Refresh on, and only then, a logged-in
// page carries one refresh script, with the CSP nonce, the widget's API and
// the exp of the page's token, whose lifetime is the TTL; and that an
// anonymous page carries none.
func TestRefreshPages(t *testing.T) {
	const ttl = 2 * time.Minute
	tests := []struct {
		name    string
		refresh bool
		login   bool
		want    int // refresh scripts
	}{
		{"refresh, alice", true, true, 1},
		{"refresh, anonymous", true, false, 0},
		{"no refresh, alice", false, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRefreshSite(t, ttl, tc.refresh, io.Discard)
			base, c := newTestClient(t, s)
			st := get("/", isAnonymous)
			if tc.login {
				st = loginAs("alice", isVisitor(parsePublicKey(t, s.PublicKey), aliceVisitor))
			}
			res, body := st.do(t, c, base)
			for _, chk := range st.checks {
				chk(t, res, body) // the nonce of every script included
			}
			rs := refreshScripts(body)
			if len(rs) != tc.want {
				t.Fatalf("page has %d refresh scripts, want %d:\n%s", len(rs), tc.want, body)
			}
			if !tc.login {
				return
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(pageToken(t, body), claims); err != nil {
				t.Fatal(err)
			}
			exp, _ := claims.GetExpirationTime()
			iat, _ := claims.GetIssuedAt()
			if exp == nil || iat == nil || exp.Sub(iat.Time) != ttl {
				t.Errorf("token iat %v, exp %v; want exp - iat = %v", iat, exp, ttl)
			}
			if tc.want == 0 {
				return
			}
			for _, want := range []string{
				`"update":"` + widgetsim.UpdateHook + `"`,
				`"logout":"` + widgetsim.LogoutHook + `"`,
				`"expired":"` + widgetsim.ExpiredHook + `"`,
				"exp=" + strconv.FormatInt(exp.Unix(), 10) + "*1000",
			} {
				if !strings.Contains(rs[0].text, want) {
					t.Errorf("refresh script %q lacks %s", rs[0].text, want)
				}
			}
		})
	}
}
