package cluster

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/integration/cluster/clustertest"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
)

// widgetID is the widget ID every instance is started with.
const widgetID = "cluster-widget"

// embedSrc is the path of the widget's embed script in the demo's pages,
// whose src is its absolute URL on an instance's origin.
const embedSrc = "/widgetsim/embed/" + widgetID + ".js"

// sessionKey signs the session IDs of every instance.
const sessionKey = "cluster-test-session-key-0123456789"

// jwksPath is where the demo publishes its keys.
const jwksPath = "/.well-known/jwks.json"

// soakUsers is how many load-test accounts every instance accepts.
const soakUsers = 50

// requestTimeout bounds each request of the tests.
const requestTimeout = 30 * time.Second

// testdata returns the absolute path of a file under testdata, for the
// instances' flags.
func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// demoConfig returns the configuration of an instance that signs with the
// old key and keeps its sessions in the Redis server at redisURL.
func demoConfig(t testing.TB, redisURL string) clustertest.DemoConfig {
	return clustertest.DemoConfig{
		Bin: demoBin, WidgetID: widgetID, KeyFile: testdata(t, "old.pem"),
		SessionKey: sessionKey, Redis: redisURL, SoakUsers: soakUsers, Refresh: true,
	}
}

// startInstances starts redis-server and n instances of the demo that share
// it, each from demoConfig, changed by change when it is not nil.
func startInstances(t testing.TB, n int, change func(*clustertest.DemoConfig)) (*clustertest.Redis, []*clustertest.Demo) {
	t.Helper()
	r := clustertest.StartRedis(t)
	demos := make([]*clustertest.Demo, n)
	for i := range demos {
		c := demoConfig(t, r.URL)
		if change != nil {
			change(&c)
		}
		demos[i] = clustertest.StartDemo(t, c)
	}
	t.Cleanup(func() { checkQuiet(t, demos...) })
	return r, demos
}

// checkQuiet fails t if an instance logged a warning or an error.
func checkQuiet(t testing.TB, demos ...*clustertest.Demo) {
	for _, d := range demos {
		if p := d.Problems(); len(p) > 0 {
			t.Errorf("instance at %s logged %d problems, want none:\n%s", d.Addr, len(p), strings.Join(p, "\n"))
		}
	}
}

// A visitor is a browser: a cookie jar of its own, redirects not followed,
// so that each request is seen.
type visitor struct {
	c *http.Client
}

// newVisitor returns a visitor whose requests go through tr (nil:
// http.DefaultTransport).
func newVisitor(tr http.RoundTripper) *visitor {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &visitor{c: &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request with ctx and returns the response, whose body it has
// read, and the body. form, when not nil, is posted.
func (v *visitor) do(ctx context.Context, method, u string, form url.Values, header http.Header) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := v.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res, nil, fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	return res, b, nil
}

// get is do for GET, failing t on an error or a status other than 200.
func (v *visitor) get(t testing.TB, u string) (*http.Response, []byte) {
	t.Helper()
	res, b, err := v.do(t.Context(), http.MethodGet, u, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body:\n%s", u, res.StatusCode, b)
	}
	return res, b
}

// login logs v in as the demo user login through base, failing t unless
// the demo redirects home.
func (v *visitor) login(t testing.TB, base, login string) {
	t.Helper()
	v.post(t, base+"/login", url.Values{"user": {login}})
}

// logout logs v out through base.
func (v *visitor) logout(t testing.TB, base string) {
	t.Helper()
	v.post(t, base+"/logout", url.Values{})
}

// post posts form to u and fails t unless the demo redirects home.
func (v *visitor) post(t testing.TB, u string, form url.Values) {
	t.Helper()
	res, b, err := v.do(t.Context(), http.MethodPost, u, form, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("POST %s: status %d to %q, want 303 to /; body:\n%s", u, res.StatusCode, res.Header.Get("Location"), b)
	}
}

// An identity is what a logged-in visitor's token and page must say.
type identity struct {
	login, name, sub, email string
}

// userIdentity returns the identity of the demo user login: alice, bob or
// soak-N.
func userIdentity(login string) identity {
	switch login {
	case "alice":
		return identity{login, "Alice Example", "u-1001", "alice@example.com"}
	case "bob":
		return identity{login, "Bob Sample", "u-2002", ""}
	}
	n := strings.TrimPrefix(login, "soak-")
	return identity{login, "Soak User " + n, "u-" + login, login + "@example.test"}
}

// A keySet is the public keys of a JWKS document, by kid.
type keySet map[string]*rsa.PublicKey

// parseJWKS returns the RSA keys of a JWKS document.
func parseJWKS(b []byte) (keySet, error) {
	var doc struct {
		Keys []struct {
			Kty, Kid, N, E, Alg string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("JWKS %q: %w", b, err)
	}
	ks := make(keySet)
	for _, k := range doc.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Kid == "" || errN != nil || errE != nil {
			return nil, fmt.Errorf("JWKS key %+v: want an RS256 key with a kid", k)
		}
		ks[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return ks, nil
}

// fetchJWKS returns the key set that base publishes.
func fetchJWKS(t testing.TB, base string) keySet {
	t.Helper()
	_, b := newVisitor(nil).get(t, base+jwksPath)
	ks, err := parseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// verify checks token's RS256 signature with the key of ks its kid names,
// and its iat and exp as of at, with golang-jwt (not chatwidget's code),
// and returns its claims.
func (ks keySet) verify(token string, at time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k := ks[kid]; k != nil {
			return k, nil
		}
		return nil, fmt.Errorf("no key with kid %q", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return at }))
	return claims, err
}

// checkClaims checks that claims are want's.
func checkClaims(claims jwt.MapClaims, want identity) error {
	got := identity{login: want.login}
	got.name, _ = claims["name"].(string)
	got.sub, _ = claims["sub"].(string)
	got.email, _ = claims["email"].(string)
	if got != want || claims["isLoggedIn"] != true || claims["User ID"] != want.sub {
		return fmt.Errorf("token of %s carries %v, want %+v", want.login, claims, want)
	}
	return nil
}

// A page is what the widget finds in an HTML page.
type page struct {
	embeds       int    // embed scripts (src an absolute URL whose path is embedSrc)
	markers      int    // scripts with data-chatwidget: snippets
	customerData int    // customer-data scripts
	anonymous    int    // scripts that say nobody is logged in
	token        string // the token of the first customer-data script
}

// tokenPattern captures the token of the Sim's customer-data script.
var tokenPattern = regexp.MustCompile(`done\("([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"\)`)

// isEmbedSrc reports whether src is the absolute URL of the embed script.
func isEmbedSrc(src string) bool {
	u, err := url.Parse(src)
	return err == nil && u.IsAbs() && u.Host != "" && u.Path == embedSrc
}

// parsePage returns the widget's scripts of body, as x/net/html's tokenizer
// sees them.
func parsePage(body []byte) page {
	var p page
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return p
		case html.StartTagToken:
			name, more := z.TagName()
			if string(name) != "script" {
				continue
			}
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				switch {
				case string(k) == "src" && isEmbedSrc(string(v)):
					p.embeds++
				case string(k) == "data-chatwidget":
					p.markers++
				}
			}
			if z.Next() != html.TextToken {
				continue
			}
			text := z.Text()
			if bytes.Contains(text, []byte("chatWidgetCustomerData")) {
				p.customerData++
				if m := tokenPattern.FindSubmatch(text); m != nil && p.token == "" {
					p.token = string(m[1])
				}
			}
			if string(text) == "window.chatWidgetAnonymous=true;" {
				p.anonymous++
			}
		}
	}
}

// jwtPattern finds a JWT: a base64url JSON header, a base64url JSON payload
// and a signature. (A bare "eyJ" is not one: it turns up in random CSP
// nonces.)
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// soakNamePattern finds the names of load-test accounts in a page.
var soakNamePattern = regexp.MustCompile(`Soak User [0-9]+`)

// checkPage checks that body is a demo page with exactly one snippet: for
// want, its token verified by ks as of at and the page's own content about
// want; for nil, no token and the anonymous code. It returns the page's
// token.
func checkPage(body []byte, want *identity, ks keySet, at time.Time) (string, error) {
	if !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
		return "", fmt.Errorf("not a demo page: %.200q", body)
	}
	p := parsePage(body)
	if p.embeds != 1 || p.markers != 1 {
		return "", fmt.Errorf("page has %d embed scripts and %d data-chatwidget scripts, want 1 each", p.embeds, p.markers)
	}
	for _, m := range soakNamePattern.FindAll(body, -1) {
		if want == nil || string(m) != want.name {
			return "", fmt.Errorf("page of %v names %q", who(want), m)
		}
	}
	loggedIn := bytes.Contains(body, []byte(`action="/logout"`))
	if want == nil {
		switch {
		case p.customerData != 0 || p.anonymous != 1:
			return "", fmt.Errorf("anonymous page has %d customer-data scripts and %d anonymous scripts, want 0 and 1", p.customerData, p.anonymous)
		case loggedIn:
			return "", fmt.Errorf("anonymous page has a logout form")
		case jwtPattern.Match(body):
			return "", fmt.Errorf("anonymous page holds a token: %q", jwtPattern.Find(body))
		}
		return "", nil
	}
	if p.customerData != 1 || p.anonymous != 0 || p.token == "" {
		return "", fmt.Errorf("page of %s has %d customer-data scripts (token %q) and %d anonymous scripts, want 1 and 0", want.login, p.customerData, p.token, p.anonymous)
	}
	if !loggedIn || !bytes.Contains(body, []byte(`action="/logout">`+html.EscapeString(want.name)+" <button")) {
		return "", fmt.Errorf("page of %s does not say they are logged in", want.login)
	}
	claims, err := ks.verify(p.token, at)
	if err != nil {
		return "", fmt.Errorf("token of %s's page: %w", want.login, err)
	}
	return p.token, checkClaims(claims, *want)
}

// who names the visitor an identity stands for.
func who(id *identity) string {
	if id == nil {
		return "an anonymous visitor"
	}
	return id.login
}

// meLogin returns the login that /api/me's body b names, "" for anonymous.
func meLogin(b []byte) (string, error) {
	var me struct {
		LoggedIn bool `json:"loggedIn"`
		User     *struct {
			Login string `json:"login"`
		} `json:"user"`
	}
	if err := json.Unmarshal(b, &me); err != nil {
		return "", fmt.Errorf("/api/me %q: %w", b, err)
	}
	if me.LoggedIn != (me.User != nil) {
		return "", fmt.Errorf("/api/me %q: loggedIn disagrees with user", b)
	}
	if me.User == nil {
		return "", nil
	}
	return me.User.Login, nil
}

// errStatus is the error of a response whose status is not the one wanted.
func errStatus(res *http.Response, want int) error {
	if res.StatusCode == want {
		return nil
	}
	return fmt.Errorf("%s %s: status %d, want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, want)
}
