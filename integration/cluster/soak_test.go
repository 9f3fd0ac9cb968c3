package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/integration/cluster/clustertest"
)

// A soakConfig is the size of a soak run.
type soakConfig struct {
	visitors int           // concurrent visitors, each with a cookie jar of its own
	users    int           // distinct accounts, soak-0 … soak-(users-1); visitor i is soak-(i mod users)
	requests int           // requests through nginx, at least
	limit    time.Duration // the run stops after this, done or not
	seed     uint64        // the visitors' random choices
}

// soakFromEnv returns the soak's size: a short run by default, and the one
// the README reports with CHATWIDGET_SOAK=1 (scripts/soak): 100 visitors,
// 50 users, 20,000 requests. CHATWIDGET_SOAK_REQUESTS and
// CHATWIDGET_SOAK_SEED change those numbers.
func soakFromEnv(t *testing.T) soakConfig {
	c := soakConfig{visitors: 20, users: 10, requests: 2000, limit: 90 * time.Second, seed: uint64(time.Now().UnixNano())}
	if os.Getenv("CHATWIDGET_SOAK") != "" {
		c = soakConfig{visitors: 100, users: soakUsers, requests: 20000, limit: 10 * time.Minute, seed: c.seed}
	}
	for name, p := range map[string]*int{"CHATWIDGET_SOAK_REQUESTS": &c.requests} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive number", name, v)
			}
			*p = n
		}
	}
	if v := os.Getenv("CHATWIDGET_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHATWIDGET_SOAK_SEED=%q: want a number", v)
		}
		c.seed = n
	}
	return c
}

// TestSoak runs visitors through nginx in front of two instances sharing
// Redis: each has a cookie jar of its own and an account of its own (two
// visitors per account in the full run), and logs in and out, loads pages,
// /public (which nginx may cache when anonymous), /api/me and the token
// endpoint, until the requests are done or the time is up. Pages come
// gzip-compressed by nginx (Go's client asks for gzip and decodes it). Every
// page is checked: exactly one snippet; logged in, the token verified with the
// instances' JWKS and naming the visitor's own account, and the page's own
// content about that account too; logged out, no token. A logged-in
// visitor may get the anonymous /public from nginx's cache (a HIT, as the
// README says); never anyone's token from it. Zero errors are allowed; the
// figures are logged.
func TestSoak(t *testing.T) {
	cfg := soakFromEnv(t)
	r, demos := startInstances(t, 2, nil)
	n := clustertest.StartNginx(t, demos[0].Addr, demos[1].Addr)
	ks := fetchJWKS(t, demos[0].URL)

	tr := &http.Transport{MaxIdleConnsPerHost: cfg.visitors, MaxIdleConns: cfg.visitors, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), cfg.limit)
	defer cancel()
	s := &soak{cfg: cfg, base: n.URL, ks: ks, tr: tr}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.visitors {
		wg.Go(func() { s.visit(ctx, i) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	rep := s.report(elapsed)
	t.Log("\n" + rep)
	if out := os.Getenv("CHATWIDGET_SOAK_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(rep), 0o644); err != nil {
			t.Error(err)
		}
	}
	if got := s.done.Load(); got < int64(cfg.requests) {
		t.Errorf("%d requests in %v, want %d: the run hit its time limit", got, cfg.limit, cfg.requests)
	}
	if s.errors.Load() != 0 {
		t.Errorf("%d errors, want 0; the first ones:\n%s", s.errors.Load(), strings.Join(s.firstErrors, "\n"))
	}
	if s.tokens.Load() == 0 || s.anonymous.Load() == 0 {
		t.Errorf("checked %d tokens and %d anonymous pages, want some of each", s.tokens.Load(), s.anonymous.Load())
	}
	if keys := r.Client(t).DBSize(t.Context()).Val(); keys > int64(cfg.visitors) {
		t.Errorf("Redis holds %d sessions for %d visitors: logins or logouts leave sessions behind", keys, cfg.visitors)
	}
}

// soak is the state of a soak run, shared by its visitors.
type soak struct {
	cfg  soakConfig
	base string // nginx
	ks   keySet
	tr   http.RoundTripper

	started, done           atomic.Int64 // requests taken, requests finished
	errors                  atomic.Int64
	tokens, anonymous       atomic.Int64 // pages and token-endpoint answers checked
	cachedAnonymousLoggedIn atomic.Int64 // logged-in visitors given the cached anonymous /public
	gzipped                 atomic.Int64 // pages nginx compressed (the client asks, as Go's does by default)

	mu          sync.Mutex
	latencies   []time.Duration
	byAction    map[string]int
	byCache     map[string]int
	byUpstream  map[string]int
	firstErrors []string
}

// An action is one request a visitor can make.
type action struct {
	name   string
	weight int
	do     func(s *soak, ctx context.Context, v *soakVisitor) error
}

// loggedInActions and loggedOutActions are what a visitor does, weighted,
// while logged in and while not.
var (
	loggedInActions = []action{
		{"GET /", 24, getPage("/")},
		{"GET /about", 20, getPage("/about")},
		{"GET /public?n=…", 24, getPage("/public")},
		{"GET /api/me", 12, getMe},
		{"GET /chatwidget/token", 10, getToken},
		{"POST /login (again)", 4, postLogin},
		{"POST /logout", 6, postLogout},
	}
	loggedOutActions = []action{
		{"POST /login", 30, postLogin},
		{"GET /", 20, getPage("/")},
		{"GET /about", 15, getPage("/about")},
		{"GET /public?n=…", 25, getPage("/public")},
		{"GET /api/me", 10, getMe},
	}
)

// A soakVisitor is one visitor of a soak run.
type soakVisitor struct {
	*visitor
	id       identity
	loggedIn bool
	rng      *rand.Rand
}

// visit runs visitor i until the run's requests are taken or ctx ends.
func (s *soak) visit(ctx context.Context, i int) {
	v := &soakVisitor{
		visitor: newVisitor(s.tr),
		id:      userIdentity("soak-" + strconv.Itoa(i%s.cfg.users)),
		rng:     rand.New(rand.NewPCG(s.cfg.seed, uint64(i))),
	}
	for ctx.Err() == nil && s.started.Add(1) <= int64(s.cfg.requests) {
		a := v.pick()
		t0 := time.Now()
		err := a.do(s, ctx, v)
		s.record(a.name, time.Since(t0), err)
		if err != nil {
			// Whatever state the visitor is in, a logout ends it.
			t0 = time.Now()
			_, _, err := v.do(ctx, http.MethodPost, s.base+"/logout", url.Values{}, nil)
			s.record("POST /logout (after an error)", time.Since(t0), err)
			v.loggedIn = false
		}
	}
}

// pick chooses the visitor's next action.
func (v *soakVisitor) pick() action {
	as := loggedOutActions
	if v.loggedIn {
		as = loggedInActions
	}
	total := 0
	for _, a := range as {
		total += a.weight
	}
	n := v.rng.IntN(total)
	for _, a := range as {
		if n -= a.weight; n < 0 {
			return a
		}
	}
	return as[len(as)-1]
}

// want returns the identity the visitor's pages must carry, nil for none.
func (v *soakVisitor) want() *identity {
	if v.loggedIn {
		return &v.id
	}
	return nil
}

// getPage returns the action that loads path (for /public, one of 200
// variants, so that nginx's cache sees first fetches by logged-in and by
// anonymous visitors alike) and checks it.
func getPage(path string) func(s *soak, ctx context.Context, v *soakVisitor) error {
	public := path == "/public"
	return func(s *soak, ctx context.Context, v *soakVisitor) error {
		u := path
		if public {
			u += "?n=" + strconv.Itoa(v.rng.IntN(200))
		}
		res, body, err := v.do(ctx, http.MethodGet, s.base+u, nil, nil)
		if err != nil {
			return err
		}
		if err := errStatus(res, http.StatusOK); err != nil {
			return err
		}
		cache := res.Header.Get("X-Cache-Status")
		s.count(cache, res.Header.Get("X-Upstream"))
		if res.Uncompressed {
			s.gzipped.Add(1)
		}
		want := v.want()
		if cache == "HIT" {
			if !public {
				return fmt.Errorf("GET %s by %s: X-Cache-Status HIT for a page without caching headers", u, who(want))
			}
			if want != nil {
				s.cachedAnonymousLoggedIn.Add(1)
			}
			want = nil // only anonymous pages may be in the cache
		}
		if _, err := checkPage(body, want, s.ks, time.Now()); err != nil {
			return fmt.Errorf("GET %s by visitor %s (logged in: %v, %s): %w", u, v.id.login, v.loggedIn, cache, err)
		}
		s.checked(want != nil)
		return nil
	}
}

// getMe checks that /api/me names the visitor's account, or nobody.
func getMe(s *soak, ctx context.Context, v *soakVisitor) error {
	res, body, err := v.do(ctx, http.MethodGet, s.base+"/api/me", nil, nil)
	if err != nil {
		return err
	}
	if err := errStatus(res, http.StatusOK); err != nil {
		return err
	}
	s.count(res.Header.Get("X-Cache-Status"), res.Header.Get("X-Upstream"))
	got, err := meLogin(body)
	if err != nil {
		return err
	}
	if want := v.want(); (want == nil && got != "") || (want != nil && got != want.login) {
		return fmt.Errorf("/api/me for %s names %q", who(want), got)
	}
	return nil
}

// getToken checks that the token endpoint gives the visitor their own
// token, verified.
func getToken(s *soak, ctx context.Context, v *soakVisitor) error {
	res, body, err := v.do(ctx, http.MethodGet, s.base+"/chatwidget/token", nil, nil)
	if err != nil {
		return err
	}
	if err := errStatus(res, http.StatusOK); err != nil {
		return err
	}
	s.count(res.Header.Get("X-Cache-Status"), res.Header.Get("X-Upstream"))
	var tok struct {
		LoggedIn bool   `json:"loggedIn"`
		Token    string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return fmt.Errorf("token endpoint %q: %w", body, err)
	}
	if !tok.LoggedIn {
		return fmt.Errorf("token endpoint says %s is logged out", v.id.login)
	}
	claims, err := s.ks.verify(tok.Token, time.Now())
	if err != nil {
		return fmt.Errorf("token endpoint for %s: %w", v.id.login, err)
	}
	if err := checkClaims(claims, v.id); err != nil {
		return err
	}
	s.checked(true)
	return nil
}

// postLogin logs the visitor in as their account.
func postLogin(s *soak, ctx context.Context, v *soakVisitor) error {
	if err := v.post(ctx, s, "/login", url.Values{"user": {v.id.login}}); err != nil {
		return err
	}
	v.loggedIn = true
	return nil
}

// postLogout logs the visitor out.
func postLogout(s *soak, ctx context.Context, v *soakVisitor) error {
	if err := v.post(ctx, s, "/logout", url.Values{}); err != nil {
		return err
	}
	v.loggedIn = false
	return nil
}

// post posts form to path and checks the redirect home.
func (v *soakVisitor) post(ctx context.Context, s *soak, path string, form url.Values) error {
	res, _, err := v.do(ctx, http.MethodPost, s.base+path, form, nil)
	if err != nil {
		return err
	}
	s.count(res.Header.Get("X-Cache-Status"), res.Header.Get("X-Upstream"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		return fmt.Errorf("POST %s: status %d to %q, want 303 to /", path, res.StatusCode, res.Header.Get("Location"))
	}
	return nil
}

// record counts a finished request.
func (s *soak) record(name string, d time.Duration, err error) {
	s.done.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	if s.byAction == nil {
		s.byAction = make(map[string]int)
	}
	s.byAction[name]++
	if err != nil {
		s.errors.Add(1)
		if len(s.firstErrors) < 10 {
			s.firstErrors = append(s.firstErrors, err.Error())
		}
	}
}

// count counts a response's X-Cache-Status and X-Upstream.
func (s *soak) count(cache, upstream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byCache == nil {
		s.byCache, s.byUpstream = make(map[string]int), make(map[string]int)
	}
	if cache == "" {
		cache = "(none)"
	}
	s.byCache[cache]++
	if upstream == "" {
		upstream = "(cache)"
	}
	s.byUpstream[upstream]++
}

// checked counts a page or token-endpoint answer checked.
func (s *soak) checked(token bool) {
	if token {
		s.tokens.Add(1)
	} else {
		s.anonymous.Add(1)
	}
}

// report returns the run's figures.
func (s *soak) report(elapsed time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	var b strings.Builder
	done := s.done.Load()
	fmt.Fprintf(&b, "soak: %d visitors, %d users, seed %d, demo race detector %v\n", s.cfg.visitors, s.cfg.users, s.cfg.seed, raceEnabled)
	fmt.Fprintf(&b, "requests: %d through nginx in %v: %.0f requests/s\n", done, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds())
	fmt.Fprintf(&b, "errors: %d\n", s.errors.Load())
	fmt.Fprintf(&b, "latency: p50 %v, p90 %v, p99 %v, p99.9 %v, max %v\n", pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1))
	fmt.Fprintf(&b, "checked: %d tokens of the visitor's own account (pages and token endpoint), %d anonymous pages\n", s.tokens.Load(), s.anonymous.Load())
	fmt.Fprintf(&b, "pages gzip-compressed by nginx and decoded: %d\n", s.gzipped.Load())
	fmt.Fprintf(&b, "logged-in visitors given nginx's cached anonymous /public: %d\n", s.cachedAnonymousLoggedIn.Load())
	fmt.Fprintf(&b, "by request: %s\n", formatCounts(s.byAction))
	fmt.Fprintf(&b, "X-Cache-Status: %s\n", formatCounts(s.byCache))
	fmt.Fprintf(&b, "upstreams: %s\n", formatCounts(s.byUpstream))
	return b.String()
}

// formatCounts returns m as "key n, …", keys sorted.
func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
