package chatwidget

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// clockRun is what testdata/refresh_clock_harness.js prints; times are
// milliseconds of virtual time from the start of the run.
type clockRun struct {
	Fetches []struct {
		At  float64
		URL string
	}
	Tokens []struct {
		At    float64
		Token string
	}
	Timers []struct {
		At, MS float64
	}
	Rejections, Exceptions []string
}

// What the clock harness does and expects: all is well from harnessFixAt
// on and the run stops at harnessEnd (milliseconds of virtual time), the
// script waits at most maxBackoff (ms) after a failure, and the page's
// origin is harnessOrigin. The page's tokens live refreshTestTTL.
const (
	harnessFixAt   = 20 * 60 * 1000
	harnessEnd     = 40 * 60 * 1000
	maxBackoff     = 5 * 60 * 1000
	harnessOrigin  = "https://site.example"
	refreshTestTTL = 10 * time.Minute
)

// TestRefreshScriptRecovers runs the refresh script in Node on a virtual
// clock against a page and an endpoint that misbehave for 20 minutes: the
// vendor's path throws when read (a cross-origin frame named like the
// vendor's object, by a getter or as the object), ends in something that is
// not a function, or the endpoint answers a token with no expiresAt or
// something that is not an answer. Each time the script must back off
// (never two fetches within a second, growing waits once the token has
// expired, none over 5 minutes), hand the vendor nothing malformed, recover
// within 5 minutes once all is well, and then wait for the next token's
// time; its fetches must go to the page's origin, never to the document's
// base URL.
func TestRefreshScriptRecovers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is missing")
		}
		t.Skip("node not installed")
	}
	m := newTest(t, fixed(alice), nil, WithTTL(refreshTestTTL), WithRefresh(Refresh{Endpoint: "/t", Update: "ChatWidget.setToken", Logout: "ChatWidget.logout"}))
	s := scripts(t, serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String())
	file := filepath.Join(t.TempDir(), "refresh.js")
	if err := os.WriteFile(file, []byte(s[2].text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, exp, _ := m.TokenFor(alice)
	for _, which := range []string{"getter-throws", "frame", "not-function", "no-expiry", "malformed", "base"} {
		t.Run(which, func(t *testing.T) {
			expAt := float64(time.Until(exp).Milliseconds()) // the page's token expires then, give or take the start of node
			out, err := exec.Command(node, "testdata/refresh_clock_harness.js", file, which).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var r clockRun
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("harness printed %q: %v", out, err)
			}
			checkClockRun(t, r, expAt, which != "base")
			if t.Failed() {
				t.Logf("run: %s", out)
			}
		})
	}
}

// checkClockRun checks a run of the clock harness; broken says whether the
// page or the endpoint misbehaved until harnessFixAt.
func checkClockRun(t *testing.T, r clockRun, expAt float64, broken bool) {
	t.Helper()
	if len(r.Rejections)+len(r.Exceptions) > 0 {
		t.Errorf("unhandled rejections %q, exceptions %q", r.Rejections, r.Exceptions)
	}
	for _, tm := range r.Timers {
		if tm.MS < 0 {
			t.Errorf("at %.0f ms, setTimeout got a delay that is not a number (and fires at once)", tm.At)
			break
		}
	}
	if len(r.Tokens) == 0 {
		t.Fatal("the vendor never got a token")
	}
	first := r.Tokens[0].At // every fetch before it failed
	if broken && (first < harnessFixAt || first > harnessFixAt+maxBackoff+1000) {
		t.Errorf("the vendor got its first token at %.0f ms, want within 5 minutes after %d ms, when all was well", first, harnessFixAt)
	}
	retries, lastGap := 0, 0.0
	for i, f := range r.Fetches {
		if f.URL != harnessOrigin+"/t" {
			t.Errorf("fetch %d went to %q, want %q: the endpoint resolved against the page's origin", i, f.URL, harnessOrigin+"/t")
		}
		if i == 0 {
			continue
		}
		prev := r.Fetches[i-1].At
		gap := f.At - prev
		if gap < 1000 {
			t.Errorf("fetch %d came %.0f ms after the one before, want at least 1 s", i, gap)
		}
		if prev >= first {
			continue // not a retry
		}
		retries++
		if gap > maxBackoff+1000 {
			t.Errorf("retry %d came %.0f ms after the failure, want at most 5 minutes", i, gap)
		}
		if prev > expAt+1000 { // the token has expired: back off
			if gap < lastGap {
				t.Errorf("retry %d came %.0f ms after the failure, sooner than the %.0f ms before it: no back-off", i, gap, lastGap)
			}
			lastGap = gap
		}
	}
	if broken && (retries < 3 || retries > 30) {
		t.Errorf("%d retries before the vendor got a token, want a few, backing off", retries)
	}
	for _, tm := range r.Timers {
		if tm.At == first && tm.MS < float64(refreshTestTTL.Milliseconds())/2 {
			t.Errorf("after the vendor took a token, the script waits %.0f ms, want most of the token's TTL", tm.MS)
		}
	}
	if last := r.Tokens[len(r.Tokens)-1].At; last < harnessEnd-refreshTestTTL.Seconds()*1000 {
		t.Errorf("the last token went to the vendor at %.0f ms, want refreshing to go on to the end (%d ms)", last, harnessEnd)
	}
}

// TestRefreshBefore checks when the refresh script fetches the next token:
// Refresh.Before ahead of exp when given, else a tenth of the TTL, at
// least 5 seconds and at most a quarter of the TTL.
func TestRefreshBefore(t *testing.T) {
	tests := []struct {
		name   string
		ttl    time.Duration
		before time.Duration // Refresh.Before
		want   string        // the script's "before", in milliseconds
	}{
		{"a tenth of 10m", 10 * time.Minute, 0, "60000"},
		{"a tenth of 2m", 2 * time.Minute, 0, "12000"},
		{"a tenth of 1h", time.Hour, 0, "360000"},
		{"at least 5s", 20 * time.Second, 0, "5000"},
		{"at most a quarter", 12 * time.Second, 0, "3000"},
		{"Before", 10 * time.Minute, 90 * time.Second, "90000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil, WithTTL(tc.ttl), WithRefresh(Refresh{Update: "ChatWidget.setToken", Before: tc.before}))
			body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
			got := regexp.MustCompile(`"before":(\d+)`).FindStringSubmatch(body)
			if got == nil || got[1] != tc.want {
				t.Errorf("TTL %v, Before %v: refresh script has %q, want \"before\":%s", tc.ttl, tc.before, got, tc.want)
			}
		})
	}
}
