// Package routertest holds what the router examples' tests share: a fixed
// test key, a table-test runner whose requests log in the way the examples'
// stand-in resolvers expect (the user cookie), and checks of a response that read the page with
// golang.org/x/net/html and verify the token with github.com/golang-jwt/jwt/v5,
// an implementation that is not chatwidget's.
package routertest

import (
	"bytes"
	"compress/gzip"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// UserCookie is the cookie the examples' demo resolvers read the login from.
const UserCookie = "user"

// marker is the attribute chatwidget puts on the first <script> of the
// widget, and which a page must carry exactly once.
const marker = "data-chatwidget"

//go:embed testdata/private.pem
var keyPEM []byte

// Key returns the fixed 2048-bit test key (made with `openssl genrsa -out
// private.pem 2048`), for the examples' handlers to sign with.
func Key() chatwidget.Key { return chatwidget.KeyPEM(keyPEM) }

// PublicKey returns the public half of [Key], read with crypto/x509, which
// verifies the tokens of the examples' pages.
func PublicKey(t *testing.T) *rsa.PublicKey {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("testdata/private.pem holds no PRIVATE KEY block")
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

// Get sends GET url with c, logged in as user (the [UserCookie] cookie; ""
// sends none) and with the extra headers in header, and returns the response
// and its whole body.
func Get(t *testing.T, c *http.Client, url, user string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if user != "" {
		req.AddCookie(&http.Cookie{Name: UserCookie, Value: user})
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return res, body
}

// A Case is one request of a table test and what its response must be.
type Case struct {
	Name   string
	Path   string      // path and query
	User   string      // the login sent in the user cookie; "": none
	Header http.Header // extra request headers
	Status int         // the status code the response must have
	Checks []Check     // run in order on the response and its body
}

// Run runs each case as a subtest against srv, with srv's client.
func Run(t *testing.T, srv *httptest.Server, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			res, body := Get(t, srv.Client(), srv.URL+tc.Path, tc.User, tc.Header)
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

// A Visitor is what a page must tell the widget about a logged-in user.
type Visitor struct {
	Name   string
	Fields map[string]string // custom claims that must be there, by label
}

// customerData is the text of the default customer-data script, the token
// captured.
var customerData = regexp.MustCompile(`^window\.chatWidgetCustomerData=function\(done\)\{done\("([^"]*)"\)\};$`)

// LoggedIn returns a check that the response is an HTML page with the widget
// exactly once and, in the default customer-data script, a token that
// verifies with pub and carries want's name and fields; and that it is kept
// out of shared caches.
func LoggedIn(pub *rsa.PublicKey, want Visitor) Check {
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
		if claims["name"] != want.Name {
			t.Errorf("claim name = %v, want %q", claims["name"], want.Name)
		}
		if claims["isLoggedIn"] != true {
			t.Errorf("claim isLoggedIn = %v, want true", claims["isLoggedIn"])
		}
		for label, v := range want.Fields {
			if claims[label] != v {
				t.Errorf("claim %q = %v, want %q", label, claims[label], v)
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

// widget checks that the response is an HTML page whose body names the
// marker attribute once, on a <script> element, and returns the tokens of its
// customer-data scripts.
func widget(t *testing.T, res *http.Response, body []byte) (tokens []string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if n := bytes.Count(body, []byte(marker)); n != 1 {
		t.Fatalf("page has %d %s, want 1:\n%s", n, marker, body)
	}
	marked := 0
	for _, s := range scripts(t, body) {
		if hasAttr(s, marker) {
			marked++
		}
		if s.FirstChild != nil {
			if m := customerData.FindStringSubmatch(s.FirstChild.Data); m != nil {
				tokens = append(tokens, m[1])
			}
		}
	}
	if marked != 1 {
		t.Fatalf("page has %d <script %s> elements, want 1:\n%s", marked, marker, body)
	}
	return tokens
}

// Scripts returns a check that the page has n <script> elements, as
// golang.org/x/net/html's parser sees them.
func Scripts(n int) Check {
	return func(t *testing.T, _ *http.Response, body []byte) {
		t.Helper()
		if got := len(scripts(t, body)); got != n {
			t.Errorf("page has %d <script> elements, want %d:\n%s", got, n, body)
		}
	}
}

// scripts returns the <script> elements of page, parsed as a browser would.
func scripts(t *testing.T, page []byte) []*html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	var out []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Script {
			out = append(out, n)
		}
	}
	return out
}

// hasAttr reports whether n has the attribute named key.
func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

// NoWidget checks that the body has no widget.
func NoWidget(t *testing.T, _ *http.Response, body []byte) {
	t.Helper()
	if bytes.Contains(body, []byte(marker)) {
		t.Errorf("body has the widget, want none:\n%s", body)
	}
}

// Exactly returns a check that the response has Content-Type ct and that its
// body is want, byte for byte, with a matching Content-Length when one is
// sent.
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

// Gzipped returns a check that the response is gzip-encoded and that its
// decoded body passes checks. The request must have asked for gzip itself,
// or net/http's client decodes the body and drops Content-Encoding.
func Gzipped(checks ...Check) Check {
	return func(t *testing.T, res *http.Response, body []byte) {
		t.Helper()
		if ce := res.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("Content-Encoding = %q, want gzip", ce)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip.NewReader: %v", err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		// The length on the wire is not the decoded body's.
		decoded := *res
		decoded.ContentLength = -1
		for _, check := range checks {
			check(t, &decoded, plain)
		}
	}
}

// WidgetBefore returns a check that the widget's marker comes before s in
// the body: the page placed the snippet itself, where the middleware, which
// inserts it right before </body>, would not.
func WidgetBefore(s string) Check {
	return func(t *testing.T, _ *http.Response, body []byte) {
		t.Helper()
		m, i := bytes.Index(body, []byte(marker)), bytes.Index(body, []byte(s))
		if m < 0 || i < 0 || m > i {
			t.Errorf("body has %s at %d and %q at %d, want the widget first:\n%s", marker, m, s, i, body)
		}
	}
}
