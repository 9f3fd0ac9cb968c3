package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func TestCheckCacheControl(t *testing.T) {
	exp := time.Now().Add(10 * time.Minute)
	tests := []struct {
		name   string
		header http.Header
		level  level
		has    string
	}{
		{"private", http.Header{"Cache-Control": {"private"}}, levelOK, "Cache-Control: private"},
		{"private, max-age within the token", http.Header{"Cache-Control": {"private, max-age=60"}}, levelOK, "private, max-age=60"},
		{"no-store", http.Header{"Cache-Control": {"no-store"}}, levelOK, "no-store"},
		{"two header lines", http.Header{"Cache-Control": {"no-cache", "private"}}, levelOK, "no-cache, private"},
		{"in upper case", http.Header{"Cache-Control": {"PRIVATE"}}, levelOK, "PRIVATE"},
		{"public", http.Header{"Cache-Control": {"public, max-age=300"}}, levelFail, "has public: a shared cache"},
		{"s-maxage", http.Header{"Cache-Control": {"private, s-maxage=60"}}, levelFail, "has s-maxage"},
		{"none", http.Header{}, levelFail, "no Cache-Control on a page with a token"},
		{"not private", http.Header{"Cache-Control": {"max-age=60"}}, levelFail, "max-age=60 is not private"},
		{"max-age past exp", http.Header{"Cache-Control": {"private, max-age=3600"}}, levelWarn, "past the token's exp"},
		{"Surrogate-Control", http.Header{"Cache-Control": {"private"}, "Surrogate-Control": {"max-age=60"}}, levelFail, "Surrogate-Control: max-age=60 tells a CDN"},
		{"Cloudflare-CDN-Cache-Control", http.Header{"Cache-Control": {"private"}, "Cloudflare-Cdn-Cache-Control": {"max-age=60"}}, levelFail, "Cloudflare-Cdn-Cache-Control"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := checkCacheControl(tc.header, exp)
			if f.level != tc.level || !strings.Contains(f.msg, tc.has) {
				t.Errorf("checkCacheControl(%v) = %s %q, want %s with %q", tc.header, f.level, f.msg, tc.level, tc.has)
			}
		})
	}
}

func TestCheckVary(t *testing.T) {
	tests := []struct {
		vary []string
		want level
	}{
		{[]string{"Cookie"}, levelOK},
		{[]string{"cookie"}, levelOK},
		{[]string{"*"}, levelOK},
		{[]string{"Accept-Encoding, Cookie"}, levelOK},
		{[]string{"Accept-Encoding", "Cookie"}, levelOK},
		{nil, levelFail},
		{[]string{"Accept-Encoding"}, levelFail},
		{[]string{"Cookies"}, levelFail},
		{[]string{"Set-Cookie"}, levelFail},
	}
	for _, tc := range tests {
		h := http.Header{}
		for _, v := range tc.vary {
			h.Add("Vary", v)
		}
		if f := checkVary(h); f.level != tc.want {
			t.Errorf("checkVary(Vary: %q) = %s %q, want %s", tc.vary, f.level, f.msg, tc.want)
		}
	}
}

func TestCheckCSP(t *testing.T) {
	const inline = `window.chatWidgetCustomerData=function(done){done("x")};`
	sum := sha256.Sum256([]byte(inline))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	snippet := func(nonce string) string {
		n := ""
		if nonce != "" {
			n = ` nonce="` + nonce + `"`
		}
		return `<script data-chatwidget` + n + ` src="https://widget.example/w.js"></script><script` + n + `>` + inline + `</script>`
	}
	tests := []struct {
		name   string
		header []string // Content-Security-Policy values
		head   string   // markup in <head>
		nonce  string   // of the snippet's scripts
		level  level
		has    string
	}{
		{name: "no policy", level: levelOK, has: "no Content-Security-Policy restricts scripts"},
		{name: "no script directive", header: []string{"object-src 'none'; base-uri 'none'"}, level: levelOK, has: "no Content-Security-Policy restricts scripts"},
		{name: "nonce", header: []string{"script-src 'nonce-abc' 'strict-dynamic'"}, nonce: "abc", level: levelOK, has: `nonce "abc" on the widget's 2 scripts matches the Content-Security-Policy header (script-src)`},
		{name: "nonce keyword in upper case", header: []string{"Script-Src 'NONCE-abc'"}, nonce: "abc", level: levelOK, has: "matches"},
		{name: "nonce mismatch", header: []string{"script-src 'nonce-abc'"}, nonce: "xyz", level: levelFail, has: `the widget's script has nonce "xyz", and the Content-Security-Policy header (script-src) allows 'nonce-abc'`},
		{name: "no nonce", header: []string{"script-src 'nonce-abc'"}, level: levelFail, has: "the widget's script has no nonce"},
		{name: "default-src", header: []string{"default-src 'self' 'nonce-abc'"}, nonce: "abc", level: levelOK, has: "(default-src)"},
		{name: "script-src-elem first", header: []string{"script-src 'nonce-abc'; script-src-elem 'nonce-elem'"}, nonce: "abc", level: levelFail, has: "(script-src-elem) allows 'nonce-elem'"},
		{name: "first directive of a name counts", header: []string{"script-src 'nonce-abc'; script-src 'nonce-xyz'"}, nonce: "abc", level: levelOK, has: "matches"},
		{name: "two policies in a header", header: []string{"script-src 'nonce-abc', script-src 'nonce-xyz'"}, nonce: "abc", level: levelFail, has: "allows 'nonce-xyz'"},
		{name: "two headers", header: []string{"script-src 'nonce-abc'", "img-src 'self'"}, nonce: "abc", level: levelOK, has: "matches"},
		{name: "inline not allowed", header: []string{"default-src 'self'"}, level: levelFail, has: "script 2 of the widget (after the embed code) is inline and the Content-Security-Policy header (default-src) has neither a nonce nor 'unsafe-inline'"},
		{name: "unsafe-inline", header: []string{"script-src 'self' 'unsafe-inline'"}, level: levelOK, has: "allows the widget's 2 scripts (script-src)"},
		{name: "hash", header: []string{"script-src 'self' " + hash}, level: levelOK, has: "allows"},
		{name: "other hash", header: []string{"script-src 'self' 'sha256-AAAA'"}, level: levelFail, has: "only by hash"},
		{name: "hash overrides unsafe-inline", header: []string{"script-src 'unsafe-inline' 'sha256-AAAA'"}, level: levelFail, has: "only by hash"},
		{name: "meta policy", head: `<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-meta'">`, nonce: "abc", level: levelFail, has: "a <meta> Content-Security-Policy (script-src) allows 'nonce-meta'"},
		{name: "meta and header", header: []string{"script-src 'nonce-abc'"}, head: `<meta http-equiv="content-security-policy" content="script-src 'nonce-abc'">`, nonce: "abc", level: levelOK, has: "matches"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := "<!doctype html><head>" + tc.head + "</head><body>" + snippet(tc.nonce) + "</body>"
			doc, err := html.Parse(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			_, w := checkWidget(&parsedPage{raw: []byte(page), on: doc, off: doc})
			h := http.Header{"Content-Security-Policy": tc.header}
			f := checkCSP(h, doc, snippetScripts(w))
			if f.level != tc.level || !strings.Contains(f.msg, tc.has) {
				t.Errorf("checkCSP(%q, %q) = %s %q, want %s with %q", tc.header, tc.head, f.level, f.msg, tc.level, tc.has)
			}
		})
	}
}

// TestCheckCSPMetaInBody checks that a policy in a <meta> outside <head>,
// which browsers ignore, restricts nothing.
func TestCheckCSPMetaInBody(t *testing.T) {
	page := `<body><meta http-equiv="Content-Security-Policy" content="script-src 'none'">` + widgetTag + `</body>`
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	_, w := checkWidget(&parsedPage{raw: []byte(page), on: doc, off: doc})
	if f := checkCSP(http.Header{}, doc, snippetScripts(w)); f.level != levelOK {
		t.Errorf("checkCSP with a <meta> policy in body = %s %q, want ok", f.level, f.msg)
	}
}
