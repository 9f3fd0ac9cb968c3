package chatwidget

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// FuzzHostileClaims puts any name, email, field label and value, and CSP
// nonce through a page: the page always has exactly the two inserted script
// elements and no other new element, and the token carries the values back.
func FuzzHostileClaims(f *testing.F) {
	for _, s := range []string{
		"</script><script>alert(1)</script>", "<!--", "-->", `"><img src=x onerror=alert(1)>`,
		"\u2028\u2029", "</SCRIPT >", "<![CDATA[", "JWT_TOKEN", "WIDGET_ID", "\x00", "</body>",
	} {
		f.Add(s, s, s, s, s)
	}
	m := newTest(f, fixed(nil), nil)
	f.Fuzz(func(t *testing.T, name, email, label, value, nonce string) {
		valid := utf8.ValidString(name) && utf8.ValidString(email) && utf8.ValidString(label) && utf8.ValidString(value)
		if name == "" || label == "" || reservedClaims[label] || !valid {
			return // not a visitor the vendor accepts; tested elsewhere
		}
		v := &Visitor{Name: name, Email: email, Fields: map[string]any{label: value}}
		mw := *m
		mw.resolver = fixed(v)
		mw.nonce = func(*http.Request) string { return nonce }
		rec := httptest.NewRecorder()
		mw.Handler(htmlHandler(page)).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		body := rec.Body.String()
		n, scripts := elements(t, body)
		if want, _ := elements(t, page); n != want+2 || scripts != 2 {
			t.Fatalf("page has %d elements and %d scripts, want %d and 2: %q", n, scripts, want+2, body)
		}
		claims := parseToken(t, tokenIn(t, body))
		if claims["name"] != name || claims[label] != value || (email != "" && claims["email"] != email) {
			t.Fatalf("claims %v do not carry the visitor back", claims)
		}
	})
}

// elements counts the elements and the script elements of a page, as the
// x/net/html parser builds them.
func elements(t *testing.T, body string) (all, scripts int) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode {
			all++
			if n.Data == "script" {
				scripts++
			}
		}
	}
	return all, scripts
}
