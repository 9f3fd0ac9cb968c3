package chatwidget

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatwidget/chatwidget/internal/rewrite"
)

// TestPageCSP checks that the inserted scripts take their nonce from the
// page's own policies when WithNonce gives none: a Content-Security-Policy
// header, or a <meta http-equiv> in the head, however the page is cut into
// writes; that markup in the body (a <meta>, a <script nonce>) cannot
// choose it; and that a page whose policies no nonce satisfies gets no
// widget, a warning, a count, and no resolver call when the headers alone
// say so.
func TestPageCSP(t *testing.T) {
	const (
		doc  = "<!DOCTYPE html><html><head>"
		body = "</head><body><p>hello</p></body></html>"
	)
	meta := func(policy string) string {
		return `<meta http-equiv="Content-Security-Policy" content="` + policy + `">`
	}
	tests := []struct {
		name    string
		headers []string // Content-Security-Policy values
		page    string
		nonce   string // the nonce every inserted script must carry; "-" for no widget
	}{
		{"no policy", nil, doc + body, ""},
		{"header", []string{"script-src 'nonce-h1'; object-src 'none'"}, doc + body, "h1"},
		{"header, strict-dynamic and trusted types", []string{"default-src 'none'; script-src 'nonce-h1' 'strict-dynamic'; require-trusted-types-for 'script'"}, doc + body, "h1"},
		{"report-only is not enforced", nil, doc + body, ""},
		{"meta", nil, doc + meta("script-src 'nonce-m1' 'strict-dynamic'") + body, "m1"},
		{"meta made by html/template", nil, doc + `<meta http-equiv="content-security-policy" content="script-src &#39;nonce-a&#43;b/c&#61;&#39;">` + body, "a+b/c="},
		{"meta without quotes, in upper case", nil, doc + `<META HTTP-EQUIV=Content-Security-Policy CONTENT="script-src 'NONCE-m1'">` + body, "m1"},
		{"meta after the head", nil, "<!DOCTYPE html><html><head></head>\n" + meta("script-src 'nonce-m1'") + "<body>x</body></html>", "m1"},
		{"meta after title, script and style", nil, doc + "<title>a<meta></title><style>p{}</style><script>var a='<meta>'</script>" + meta("script-src 'nonce-m1'") + body, "m1"},
		{"meta with no head start tag", nil, "<!DOCTYPE html>" + meta("script-src 'nonce-m1'") + "<p>x</p></body>", "m1"},
		{"meta after a template in the head", nil, doc + "<template><div>x</div></template>" + meta("script-src 'nonce-m1'") + body, "m1"},
		{"header and meta, the same nonce", []string{"script-src 'nonce-n1'"}, doc + meta("default-src 'none'; script-src 'nonce-n1' 'strict-dynamic'") + body, "n1"},
		{"header and meta, different nonces", []string{"script-src 'nonce-h1'"}, doc + meta("script-src 'nonce-m1'") + body, "-"},
		{"two headers, one nonce", []string{"script-src 'nonce-n1' 'nonce-x'", "script-src-elem 'nonce-n1'"}, doc + body, "n1"},
		{"two policies in one header", []string{"script-src 'nonce-n1', default-src 'nonce-n2'"}, doc + body, "-"},
		{"hash only", []string{"script-src 'sha256-AAAA'"}, doc + body, "-"},
		{"meta, hash only", nil, doc + meta("script-src 'sha256-AAAA' 'strict-dynamic'") + body, "-"},
		{"default-src none", []string{"default-src 'none'"}, doc + body, "-"},
		{"host and unsafe-inline", []string{"script-src https://cdn.example 'unsafe-inline'"}, doc + body, ""},
		{"host only", []string{"script-src https://cdn.example"}, doc + body, "-"},
		{"another host and unsafe-inline", []string{"script-src https://other.example 'unsafe-inline'"}, doc + body, "-"},
		{"a policy about frames only", []string{"frame-ancestors 'none'"}, doc + body, ""},
		{"a nonce that is not base64", []string{"script-src 'nonce-a\"b'"}, doc + body, "-"},
		// The page's own markup decides, never markup in its body.
		{"meta in the body", nil, doc + "</head><body>" + meta("script-src 'nonce-evil'") + "<p>x</p></body></html>", ""},
		{"meta after text in the head", nil, doc + "text" + meta("script-src 'nonce-evil'") + body, ""},
		{"meta after a div in the head", nil, doc + "<div>" + meta("script-src 'nonce-evil'") + body, ""},
		{"meta after < as text", nil, doc + "< " + meta("script-src 'nonce-evil'") + body, ""},
		{"meta in a template", nil, doc + "<template>" + meta("script-src 'nonce-evil'") + "</template>" + body, ""},
		{"meta in a comment", nil, doc + "<!--" + meta("script-src 'nonce-evil'") + "-->" + body, ""},
		{"meta in noscript", nil, doc + "<noscript>" + meta("script-src 'nonce-evil'") + "</noscript>" + body, ""},
		{"script nonce in the body", []string{"script-src 'nonce-good'"}, doc + "</head><body><script nonce=evil></script><p>x</p></body></html>", "good"},
		{"meta in the body beside the head's", nil, doc + meta("script-src 'nonce-good'") + "</head><body>" + meta("script-src 'nonce-evil'") + "</body></html>", "good"},
		// Bounds: the policies a page may hold for the check.
		{"16 metas", nil, doc + strings.Repeat(meta("script-src 'nonce-m1'"), rewrite.MaxMetaCSP) + body, "m1"},
		{"17 metas", nil, doc + strings.Repeat(meta("script-src 'nonce-m1'"), rewrite.MaxMetaCSP+1) + body, "-"},
		{"64 policies in a header", []string{strings.Repeat("script-src 'nonce-n1',", maxPolicies-1) + "script-src 'nonce-n1'"}, doc + body, "n1"},
		{"65 policies in a header", []string{strings.Repeat("script-src 'nonce-n1',", maxPolicies) + "script-src 'nonce-n1'"}, doc + body, "-"},
		// Each <meta> with commas counts its comma-separated policies and
		// its whole content: 41 + 1 and 21 + 1, or 22 + 1.
		{"64 policies in metas", nil, doc + meta(strings.Repeat("script-src 'nonce-n1' , ", 40)+"script-src 'nonce-n1'") + meta(strings.Repeat("script-src 'nonce-n1' , ", 20)+"script-src 'nonce-n1'") + body, "n1"},
		{"65 policies in metas", nil, doc + meta(strings.Repeat("script-src 'nonce-n1' , ", 40)+"script-src 'nonce-n1'") + meta(strings.Repeat("script-src 'nonce-n1' , ", 21)+"script-src 'nonce-n1'") + body, "-"},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += "/byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				logs := &logBuffer{}
				var calls atomic.Int32
				m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil }), logs)
				h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					for _, v := range tc.headers {
						w.Header().Add("Content-Security-Policy", v)
					}
					w.Header().Set("Content-Security-Policy-Report-Only", "script-src 'nonce-ro'")
					if !split {
						w.Write([]byte(tc.page))
						return
					}
					for i := range len(tc.page) {
						w.Write([]byte{tc.page[i]})
					}
				}))
				got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
				if tc.nonce == "-" {
					if got != tc.page {
						t.Errorf("body = %q, want the page untouched", got)
					}
					if st := m.Stats(); st.Refused.CSP != 1 || st.PagesRefused != 1 {
						t.Errorf("Stats() = %+v, want one page refused for its CSP", st)
					}
					if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "nonce-source") {
						t.Errorf("logs = %q, want a warning that names the fix", logs.String())
					}
					if strings.HasPrefix(tc.name, "hash only") || strings.HasPrefix(tc.name, "default-src none") {
						if n := calls.Load(); n != 0 {
							t.Errorf("resolver called %d times for a page whose headers refuse even the embed code", n)
						}
					}
					return
				}
				ss := scripts(t, got)
				var ours int
				for _, s := range ss {
					if _, ok := s.attrs[rewrite.MarkerAttr]; !ok && ours == 0 {
						continue // the page's own
					}
					ours++
					if s.attrs["nonce"] != tc.nonce {
						t.Errorf("inserted script nonce = %q, want %q in %s", s.attrs["nonce"], tc.nonce, got)
					}
				}
				if ours != 2 {
					t.Errorf("%d inserted scripts, want 2: %s", ours, got)
				}
			})
		}
	}
}

// TestCSPHeaderAnyKeyCase checks that Content-Security-Policy headers count
// as a browser reads them: under a key in any case (h["content-security-policy"],
// which net/http sends as it is), on every line, while a
// Content-Security-Policy-Report-Only key in any case is not enforced.
func TestCSPHeaderAnyKeyCase(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		nonce  string // the nonce of the inserted scripts; "-" for no widget
	}{
		{"lower case", http.Header{"content-security-policy": {"script-src 'nonce-l1'"}}, "l1"},
		{"lower case, hash only", http.Header{"content-security-policy": {"script-src 'sha256-AAAA'"}}, "-"},
		{"upper case, two lines", http.Header{"CONTENT-SECURITY-POLICY": {"script-src 'nonce-u1' 'nonce-u2'", "script-src-elem 'nonce-u2'"}}, "u2"},
		{"canonical and lower case, different nonces", http.Header{"Content-Security-Policy": {"script-src 'nonce-c1'"}, "content-security-policy": {"script-src 'nonce-l1'"}}, "-"},
		{"canonical and lower case, one nonce", http.Header{"Content-Security-Policy": {"script-src 'nonce-n1' 'nonce-c1'"}, "content-security-policy": {"default-src 'nonce-n1'"}}, "n1"},
		{"report-only in lower case", http.Header{"content-security-policy-report-only": {"script-src 'sha256-AAAA'"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.Write([]byte(page))
			}))
			got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
			if tc.nonce == "-" {
				if got != page {
					t.Errorf("body = %q, want the page untouched", got)
				}
				if n := m.Stats().Refused.CSP; n != 1 {
					t.Errorf("Stats().Refused.CSP = %d, want 1", n)
				}
				return
			}
			var ours int
			for _, s := range scripts(t, got) {
				if _, ok := s.attrs[rewrite.MarkerAttr]; ok || ours > 0 {
					ours++
					if s.attrs["nonce"] != tc.nonce {
						t.Errorf("inserted script nonce = %q, want %q in %s", s.attrs["nonce"], tc.nonce, got)
					}
				}
			}
			if ours != 2 {
				t.Errorf("%d inserted scripts, want 2: %s", ours, got)
			}
		})
	}
}

// TestPageCSPWithNonce checks that WithNonce's nonce is the one the
// scripts carry, and that a page whose policies do not allow it gets no
// widget.
func TestPageCSPWithNonce(t *testing.T) {
	m := newTest(t, fixed(alice), nil, WithNonce(func(*http.Request) string { return "cfg" }))
	for _, tc := range []struct {
		policy string
		want   bool
	}{{"", true}, {"script-src 'nonce-cfg'", true}, {"script-src 'nonce-other'", false}} {
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			if tc.policy != "" {
				w.Header().Set("Content-Security-Policy", tc.policy)
			}
			w.Write([]byte(page))
		}))
		got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
		if has := strings.Contains(got, `nonce="cfg"`); has != tc.want {
			t.Errorf("policy %q: body = %q; want the widget with nonce cfg: %v", tc.policy, got, tc.want)
		}
	}
}

// TestMatchSource checks the host and scheme sources against the URLs a
// template may use.
func TestMatchSource(t *testing.T) {
	self := &url.URL{Scheme: "https", Host: "shop.example"}
	tests := []struct {
		source, u string
		want      bool
	}{
		{"*", "https://cdn.example/w.js", true},
		{"https:", "https://cdn.example/w.js", true},
		{"http:", "https://cdn.example/w.js", true},
		{"https:", "http://localhost/w.js", false},
		{"cdn.example", "https://cdn.example/w.js", true},
		{"CDN.example", "https://cdn.example/w.js", true},
		{"https://cdn.example", "https://cdn.example/w.js", true},
		{"http://cdn.example", "https://cdn.example/w.js", true},
		{"https://cdn.example", "https://cdn.example:8443/w.js", false},
		{"https://cdn.example:8443", "https://cdn.example:8443/w.js", true},
		{"https://cdn.example:*", "https://cdn.example:8443/w.js", true},
		{"*.example", "https://cdn.example/w.js", true},
		{"*.example", "https://example/w.js", false},
		{"https://cdn.example/w/", "https://cdn.example/w/x.js", true},
		{"https://cdn.example/w/", "https://cdn.example/x.js", false},
		{"https://cdn.example/w.js", "https://cdn.example/w.js", true},
		{"https://cdn.example/w.js", "https://cdn.example/w.jsx", false},
		{"'self'", "https://shop.example/w.js", true},
		{"'self'", "https://cdn.example/w.js", false},
		{"'unsafe-inline'", "https://cdn.example/w.js", false},
		{"other.example", "https://cdn.example/w.js", false},
	}
	for _, tc := range tests {
		u, _ := url.Parse(tc.u)
		if got := matchSource(tc.source, u, self); got != tc.want {
			t.Errorf("matchSource(%q, %q) = %v, want %v", tc.source, tc.u, got, tc.want)
		}
	}
}

// TestRefreshCSP checks the refresh script against the page's CSP: it
// fetch()es the token endpoint on the page's own origin, so a policy whose
// connect-src (else default-src) does not allow that (default-src 'none'
// with no connect-src) would block the fetch, and the tab would lose its
// visitor at exp while filling its console with violations. Such a page
// gets the widget without the refresh script, and a warning; every other
// page keeps it. The request comes without TLS (http://example.com), which
// a proxy may have terminated: a source that allows the origin in https
// counts too.
func TestRefreshCSP(t *testing.T) {
	const (
		doc  = "<!DOCTYPE html><html><head>"
		body = "</head><body><p>hello</p></body></html>"
	)
	meta := func(policy string) string {
		return `<meta http-equiv="Content-Security-Policy" content="` + policy + `">`
	}
	tests := []struct {
		name    string
		v       *Visitor
		header  string // a Content-Security-Policy header, or ""
		head    string // the head's markup
		refresh bool   // the page keeps the refresh script
		warn    string // the warning's reason, or "" for none
	}{
		{"no policy", alice, "", "", true, ""},
		{"no fetch directive", alice, "script-src 'nonce-n1'", "", true, ""},
		{"connect-src 'self'", alice, "default-src 'none'; script-src 'nonce-n1'; connect-src 'self'", "", true, ""},
		{"default-src 'self'", alice, "default-src 'self'; script-src 'nonce-n1'", "", true, ""},
		{"connect-src the origin", alice, "script-src 'nonce-n1'; connect-src http://example.com", "", true, ""},
		{"connect-src the origin's host", alice, "script-src 'nonce-n1'; connect-src example.com", "", true, ""},
		{"connect-src the endpoint's path", alice, "script-src 'nonce-n1'; connect-src http://example.com/chatwidget/", "", true, ""},
		{"connect-src https, behind a TLS proxy", alice, "script-src 'nonce-n1'; connect-src https:", "", true, ""},
		{"connect-src *", alice, "script-src 'nonce-n1'; connect-src *", "", true, ""},
		{"default-src 'none'", alice, "default-src 'none'; script-src 'nonce-n1'", "", false, "a Content-Security-Policy header"},
		{"connect-src 'none'", alice, "default-src 'self'; script-src 'nonce-n1'; connect-src 'none'", "", false, "a Content-Security-Policy header"},
		{"connect-src another host", alice, "script-src 'nonce-n1'; connect-src https://api.other.example", "", false, "a Content-Security-Policy header"},
		{"connect-src another path", alice, "script-src 'nonce-n1'; connect-src http://example.com/api/", "", false, "a Content-Security-Policy header"},
		{"connect-src another port", alice, "script-src 'nonce-n1'; connect-src http://example.com:8080", "", false, "a Content-Security-Policy header"},
		{"meta default-src 'none'", alice, "", meta("default-src 'none'; script-src 'nonce-m1'"), false, "a <meta http-equiv=Content-Security-Policy> in the head"},
		{"header allows, meta blocks", alice, "script-src 'nonce-n1'; connect-src 'self'", meta("default-src 'none'; script-src 'nonce-n1'"), false, "<meta"},
		{"header and meta allow", alice, "script-src 'nonce-n1'; connect-src 'self'", meta("default-src 'self'; script-src 'nonce-n1'"), true, ""},
		{"anonymous: no refresh script", nil, "default-src 'none'; script-src 'nonce-n1'", "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			m := newTest(t, fixed(tc.v), logs, WithRefresh(Refresh{Update: "ChatWidget.setToken"}))
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if tc.header != "" {
					w.Header().Set("Content-Security-Policy", tc.header)
				}
				w.Write([]byte(doc + tc.head + body))
			}))
			got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
			if !strings.Contains(got, rewrite.MarkerAttr) {
				t.Fatalf("body = %q, want the widget", got)
			}
			if has := strings.Contains(got, "fetch(new URL("); has != tc.refresh {
				t.Errorf("refresh script in the page: %v, want %v: %s", has, tc.refresh, got)
			}
			warned := strings.Contains(logs.String(), "blocks the refresh script's fetch()")
			if warned != (tc.warn != "") || !strings.Contains(logs.String(), tc.warn) || warned && !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("logs = %q, want a warning naming %q: %v", logs.String(), tc.warn, tc.warn != "")
			}
		})
	}
}

// TestSnippetRefreshCSP checks that Snippet follows the same rule as the
// middleware's insertion under the Content-Security-Policy header the
// handler set: a policy that would block the refresh script's fetch gets
// the widget without the script, and a warning.
func TestSnippetRefreshCSP(t *testing.T) {
	tests := []struct {
		name, policy string
		refresh      bool // the widget keeps the refresh script
		warnings     int
	}{
		{"connect-src 'self'", "default-src 'none'; script-src 'nonce-n1'; connect-src 'self'", true, 0},
		{"default-src 'none'", "default-src 'none'; script-src 'nonce-n1'", false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			m := newTest(t, fixed(alice), logs, WithRefresh(Refresh{Update: "ChatWidget.setToken"}))
			var got string
			serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Security-Policy", tc.policy)
				got = string(m.Snippet(r))
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, "<!DOCTYPE html><body>"+got+"</body>")
			})), httptest.NewRequest("GET", "/", nil))
			if !strings.Contains(got, `nonce="n1"`) {
				t.Fatalf("Snippet = %q, want the widget with nonce n1", got)
			}
			if has := strings.Contains(got, "fetch(new URL("); has != tc.refresh {
				t.Errorf("refresh script in Snippet: %v, want %v: %s", has, tc.refresh, got)
			}
			if n := strings.Count(logs.String(), "blocks the refresh script's fetch()"); n != tc.warnings {
				t.Errorf("logs = %q: %d warnings about the refresh script, want %d", logs.String(), n, tc.warnings)
			}
		})
	}
}
