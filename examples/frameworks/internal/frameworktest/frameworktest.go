// Package frameworktest holds what the tests of the framework and session
// examples share: the fixed test key, a client that keeps cookies and sends
// a browser's fetch metadata, a table-test runner that logs in first, and
// checks of a response. The checks read the page with golang.org/x/net/html
// and verify the token with github.com/golang-jwt/jwt/v5 against the public
// key as crypto/x509 parses it: implementations that are not chatwidget's.
package frameworktest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// marker is the attribute chatwidget puts on the first <script> of the
// widget, which a page must carry exactly once.
const marker = "data-chatwidget"

//go:embed testdata/private.pem
var keyPEM []byte

// Key returns the fixed 2048-bit test key (made with `openssl genrsa -out
// private.pem 2048`), for chatwidget.New.
func Key() chatwidget.Key { return chatwidget.KeyPEM(keyPEM) }

// PublicKey returns the public half of the test key, parsed by crypto/x509.
func PublicKey(t *testing.T) *rsa.PublicKey {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("testdata/private.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("x509.ParsePKCS8PrivateKey: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("test key is a %T, want an *rsa.PrivateKey", k)
	}
	return &rk.PublicKey
}

// Start serves h on a loopback port until the test ends.
func Start(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A Browser sends requests to one server as a browser would: it keeps the
// cookies the server sets, sends fetch metadata, and does not follow
// redirects, so that a test sees each response.
type Browser struct {
	t    *testing.T
	base *url.URL
	c    *http.Client
}

// NewBrowser returns a Browser without cookies for srv.
func NewBrowser(t *testing.T, srv *httptest.Server) *Browser {
	t.Helper()
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: t, base: base, c: &c}
}

// navigation is the fetch metadata of a same-origin navigation: a link
// followed, or a form submitted, on one of the site's pages.
var navigation = http.Header{
	"Accept":         {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	"Sec-Fetch-Dest": {"document"},
	"Sec-Fetch-Mode": {"navigate"},
	"Sec-Fetch-Site": {"same-origin"},
	"Sec-Fetch-User": {"?1"},
}

// Navigate gets path as a browser navigating to it does, and returns the
// response and its whole body.
func (b *Browser) Navigate(path string) (*http.Response, []byte) {
	b.t.Helper()
	return b.Do(http.MethodGet, path, nil, navigation)
}

// Post submits form to path as a browser submits a form of the site's page.
func (b *Browser) Post(path string, form url.Values) (*http.Response, []byte) {
	b.t.Helper()
	h := navigation.Clone()
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Origin", b.base.Scheme+"://"+b.base.Host)
	return b.Do(http.MethodPost, path, strings.NewReader(form.Encode()), h)
}

// Do sends a request for path with body and header, and returns the
// response and its whole body.
func (b *Browser) Do(method, path string, body io.Reader, header http.Header) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base.JoinPath(path).String(), body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, data
}

// SetCookie stores c in the browser, as if the server had set it.
func (b *Browser) SetCookie(c *http.Cookie) { b.c.Jar.SetCookies(b.base, []*http.Cookie{c}) }

// Cookies returns the cookies the browser sends to the server.
func (b *Browser) Cookies() []*http.Cookie { return b.c.Jar.Cookies(b.base) }

// Login posts form to path and fails the test unless the site accepts it
// (a status below 400) and sets a cookie.
func (b *Browser) Login(path string, form url.Values) {
	b.t.Helper()
	res, body := b.Post(path, form)
	if res.StatusCode >= 400 || len(res.Cookies()) == 0 {
		b.t.Fatalf("POST %s %v: status %d, cookies %v, want a session; body:\n%s", path, form, res.StatusCode, res.Cookies(), body)
	}
}

// A Case is one navigation of a table test and what its response must be.
type Case struct {
	Name   string
	Login  url.Values // posted to the login path first; nil: stay anonymous
	Path   string     // path and query navigated to
	Status int        // the status the response must have
	Checks []Check    // run in order on the response and its body
}

// Run runs each case as a subtest against srv, each with a new [Browser]
// that logs in at loginPath first when the case says so.
func Run(t *testing.T, srv *httptest.Server, loginPath string, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			b := NewBrowser(t, srv)
			if tc.Login != nil {
				b.Login(loginPath, tc.Login)
			}
			res, body := b.Navigate(tc.Path)
			if res.StatusCode != tc.Status {
				t.Fatalf("GET %s: status %d, want %d; body:\n%s", tc.Path, res.StatusCode, tc.Status, body)
			}
			for _, check := range tc.Checks {
				check(t, res, body)
			}
		})
	}
}

// A Check tests a response and its body.
type Check func(t *testing.T, res *http.Response, body []byte)

// Claims are what the token of a logged-in visitor must say.
type Claims struct {
	Name    string
	Email   string         // "": the token must have no email claim
	Subject string         // "": the token must have no sub claim
	Fields  map[string]any // custom claims, as encoding/json decodes them (numbers are float64)
}

// customerData is the text of chatwidget's default customer-data script,
// the token captured.
var customerData = regexp.MustCompile(`^window\.chatWidgetCustomerData=function\(done\)\{done\("([^"]*)"\)\};$`)

// LoggedIn returns a check that the response is an HTML page with the widget
// exactly once and one customer-data script, whose token verifies RS256 with
// pub, has not expired and carries want; and that the page is kept out of
// shared caches.
func LoggedIn(pub *rsa.PublicKey, want Claims) Check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		tokens := widget(t, res, body)
		if len(tokens) != 1 {
			t.Fatalf("page has %d customer-data scripts, want 1:\n%s", len(tokens), body)
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tokens[0], claims, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		if err != nil {
			t.Fatalf("token does not verify with the public key: %v", err)
		}
		if exp, _ := claims.GetExpirationTime(); !exp.After(time.Now()) {
			t.Errorf("token exp = %v, want a time to come", exp)
		}
		wantClaims := map[string]any{"name": want.Name, "isLoggedIn": true}
		if want.Email != "" {
			wantClaims["email"] = want.Email
		}
		if want.Subject != "" {
			wantClaims["sub"] = want.Subject
		}
		for label, v := range want.Fields {
			wantClaims[label] = v
		}
		for k, v := range wantClaims {
			if !reflect.DeepEqual(claims[k], v) {
				t.Errorf("claim %q = %#v, want %#v", k, claims[k], v)
			}
		}
		for _, k := range []string{"email", "sub"} {
			if _, ok := wantClaims[k]; !ok && claims[k] != nil {
				t.Errorf("claim %q = %#v, want none", k, claims[k])
			}
		}
		if cc := strings.Join(res.Header.Values("Cache-Control"), ", "); !strings.Contains(cc, "private") {
			t.Errorf("Cache-Control = %q, want private", cc)
		}
	}
}

// Anonymous checks that the response is an HTML page with the widget exactly
// once and no customer data.
func Anonymous(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	if tokens := widget(t, res, body); len(tokens) != 0 {
		t.Errorf("anonymous page has %d customer-data scripts, want 0:\n%s", len(tokens), body)
	}
}

// NoWidget checks that the body has no widget.
func NoWidget(t *testing.T, _ *http.Response, body []byte) {
	t.Helper()
	if bytes.Contains(body, []byte(marker)) {
		t.Errorf("body has the widget, want none:\n%s", body)
	}
}

// Exactly returns a check that the response has Content-Type ct and body
// want, byte for byte, with a matching Content-Length when one is sent.
func Exactly(ct string, want []byte) Check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		if got := res.Header.Get("Content-Type"); got != ct {
			t.Errorf("Content-Type = %q, want %q", got, ct)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("body = %q, want %q", body, want)
		}
		if res.ContentLength >= 0 && res.ContentLength != int64(len(want)) {
			t.Errorf("Content-Length = %d, want %d", res.ContentLength, len(want))
		}
	}
}

// Contains returns a check that the body contains s.
func Contains(s string) Check {
	return func(t *testing.T, _ *http.Response, body []byte) {
		t.Helper()
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("body does not contain %q:\n%s", s, body)
		}
	}
}

// widget checks that the response is an HTML page that names the marker
// attribute once, on a <script> element as a browser parses the page, and
// returns the tokens of its customer-data scripts.
func widget(t *testing.T, res *http.Response, body []byte) (tokens []string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if n := bytes.Count(body, []byte(marker)); n != 1 {
		t.Fatalf("page names %s %d times, want 1:\n%s", marker, n, body)
	}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	marked := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.DataAtom != atom.Script {
			continue
		}
		for _, a := range n.Attr {
			if a.Namespace == "" && a.Key == marker {
				marked++
			}
		}
		if n.FirstChild != nil {
			if m := customerData.FindStringSubmatch(n.FirstChild.Data); m != nil {
				tokens = append(tokens, m[1])
			}
		}
	}
	if marked != 1 {
		t.Fatalf("page has %d <script %s> elements, want 1:\n%s", marked, marker, body)
	}
	return tokens
}

// Logs collects the records of a logger that a server's goroutines write
// to while a test reads them.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Logger returns a logger that writes text records of level and above to l.
func (l *Logs) Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: level}))
}

// Write appends p to the records.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the records written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
