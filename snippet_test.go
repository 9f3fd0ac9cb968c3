package chatwidget

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTemplateURLs checks that New accepts templates whose URLs no <base
// href> in the page can change (https with a host, http on a loopback host)
// and refuses every other URL in a URL attribute of any of the three
// templates, and a <base> element, each with an error that says what to
// write.
func TestTemplateURLs(t *testing.T) {
	const embed = `<script src="https://cdn.example/w.js"></script>`
	tests := []struct {
		name                       string
		embed, customer, anonymous string
		want                       []string // nil: accepted
	}{
		{name: "https", embed: `<script async src="https://cdn.example/v1/WIDGET_ID.js"></script>`},
		{name: "https upper case", embed: `<script src="HTTPS://CDN.example/w.js"></script>`},
		{name: "http localhost", embed: `<script src="http://localhost:8080/widgetsim/embed/WIDGET_ID.js" defer></script>`},
		{name: "http 127.0.0.1", embed: `<script src="http://127.0.0.1:8080/w.js"></script>`},
		{name: "http 127/8", embed: `<script src="http://127.3.2.1/w.js"></script>`},
		{name: "http ::1", embed: `<script src="http://[::1]:8080/w.js"></script>`},
		{name: "absolute image", customer: `<img src="https://cdn.example/p.gif" alt=""><script>x("JWT_TOKEN")</script>`},
		{name: "srcset", customer: `<img src="https://a.example/1.png" srcset="https://a.example/1,5.png 1.5x, https://a.example/2.png 2x"><script>x("JWT_TOKEN")</script>`},
		{name: "not URL attributes", embed: `<script src="https://cdn.example/w.js" data-src="/x" data-base="/y"></script><div data="/z"></div>`},
		{name: "link", anonymous: `<a href="https://help.example/chat">Help</a>`},

		{name: "root-relative", embed: `<script src="/widgetsim/embed/x.js"></script>`,
			want: []string{`chatwidget: embed template: script src "/widgetsim/embed/x.js" is relative, and a <base href> in the page would change where it loads from; write the absolute URL, e.g. "https://example.com/widgetsim/embed/x.js"`}},
		{name: "path-relative", embed: `<script src="w/WIDGET_ID.js"></script>`,
			want: []string{`script src "w/test-widget.js" is relative`, `"https://example.com/w/test-widget.js"`}},
		{name: "scheme-relative", embed: `<script src="//cdn.example/w.js"></script>`,
			want: []string{`script src "//cdn.example/w.js" is relative`, `e.g. "https://cdn.example/w.js"`}},
		{name: "empty", embed: `<script src=""></script>`, want: []string{`script src "" is relative`}},
		{name: "entity-encoded slash", embed: `<script src="&#47;w.js"></script>`, want: []string{`script src "/w.js" is relative`}},
		{name: "https without slashes", embed: `<script src="https:cdn.example/w.js"></script>`, want: []string{"is relative", `"https://example.com/cdn.example/w.js"`}},
		{name: "https one slash", embed: `<script src="https:/cdn.example/w.js"></script>`, want: []string{"is relative"}},
		{name: "https three slashes", embed: `<script src="https:///cdn.example/w.js"></script>`, want: []string{"is relative"}},
		{name: "plain http", embed: `<script src="http://cdn.example/w.js"></script>`,
			want: []string{`script src "http://cdn.example/w.js" is plain http`, `"https://cdn.example/w.js"`, "localhost and loopback"}},
		{name: "http localhost lookalike", embed: `<script src="http://localhost.evil.example/w.js"></script>`, want: []string{"is plain http"}},
		{name: "http short loopback", embed: `<script src="http://127.1/w.js"></script>`, want: []string{"is plain http"}},
		{name: "http mapped loopback", embed: `<script src="http://[::ffff:127.0.0.1]/w.js"></script>`, want: []string{"is plain http"}},
		{name: "javascript", embed: embed + `<a href="javascript:alert(1)">chat</a>`, want: []string{`a href "javascript:alert(1)" has the scheme javascript:`}},
		{name: "data", embed: `<script src="data:text/javascript,alert(1)"></script>`, want: []string{"has the scheme data:"}},
		{name: "leading space", embed: `<script src=" https://cdn.example/w.js"></script>`, want: []string{"holds a space"}},
		{name: "tab inside", embed: `<script src="https://cdn.example/w&#9;.js"></script>`, want: []string{"a control character"}},
		{name: "backslashes", embed: `<script src="https:\\cdn.example\w.js"></script>`, want: []string{"a backslash"}},
		{name: "base element", embed: embed + `<base href="https://cdn.example/">`, want: []string{"embed template: it has a <base> element"}},
		{name: "stylesheet", embed: embed + `<link rel="stylesheet" href="/chat.css">`, want: []string{`link href "/chat.css" is relative`, "where it points"}},
		{name: "form", embed: embed + `<form action="/chat"><button formaction="/chat2">Go</button></form>`,
			want: []string{`form action "/chat" is relative`, `button formaction "/chat2" is relative`}},
		{name: "object", embed: embed + `<object data="/o.swf"></object>`, want: []string{`object data "/o.swf" is relative`}},
		{name: "poster", embed: embed + `<video poster="/p.png"></video>`, want: []string{`video poster "/p.png" is relative`}},
		{name: "background", embed: embed + `<table background="/b.png"></table>`, want: []string{`table background "/b.png" is relative`}},
		{name: "srcset candidate", embed: embed + `<img src="https://a.example/1.png" srcset="https://a.example/1.png 1x, /2.png 2x">`, want: []string{`img srcset "/2.png" is relative`}},
		{name: "imagesrcset", embed: embed + `<link rel="preload" as="image" href="https://a.example/1.png" imagesrcset="https://a.example/1.png 1x, /2.png 2x">`,
			want: []string{`link imagesrcset "/2.png" is relative`}},
		{name: "ping", embed: embed + `<a href="https://a.example/" ping="https://a.example/p /p">x</a>`, want: []string{`a ping "/p" is relative`}},
		{name: "svg", embed: embed + `<svg><use xlink:href="/i.svg#chat"/><image href="/i.png"/></svg>`,
			want: []string{`use xlink:href "/i.svg#chat" is relative`, `image href "/i.png" is relative`}},
		{name: "customer data", customer: `<script src="/identify.js"></script><script>x("JWT_TOKEN")</script>`,
			want: []string{`chatwidget: customer-data template: script src "/identify.js" is relative`}},
		{name: "anonymous", anonymous: `<script src="/forget.js"></script>`, want: []string{`chatwidget: anonymous template: script src "/forget.js" is relative`}},
		{name: "every problem at once", embed: `<script src="/a.js"></script><img src="//b.example/b.png">`, anonymous: `<script src="c.js"></script>`,
			want: []string{`embed template: script src "/a.js"`, `embed template: img src "//b.example/b.png"`, `anonymous template: script src "c.js"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.embed == "" {
				tc.embed = embed
			}
			opts := []Option{WithEmbedTemplate(tc.embed), WithAnonymousTemplate(tc.anonymous)}
			if tc.customer != "" {
				opts = append(opts, WithCustomerDataTemplate(tc.customer))
			}
			_, err := New("test-widget", KeyPEM(testKeyPEM(t)), fixed(nil), opts...)
			if tc.want == nil {
				if err != nil {
					t.Errorf("New with %+v = %v, want no error", tc, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New with %+v = nil error, want %q", tc, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestSrcsetURLs checks that srcsetURLs splits a srcset as the HTML
// standard does.
func TestSrcsetURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a.png", []string{"a.png"}},
		{"a.png 1x, b.png 2x", []string{"a.png", "b.png"}},
		{" ,a.png,, b.png", []string{"a.png", "b.png"}},
		{"a,1.png 1x,b.png", []string{"a,1.png", "b.png"}},
		{"a.png,b.png", []string{"a.png,b.png"}},
		{"a.png 100w (max-width: 10px, x), b.png", []string{"a.png", "b.png"}},
		{"a.png\t1x,\nb.png 2x", []string{"a.png", "b.png"}},
	}
	for _, tc := range tests {
		if got := srcsetURLs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("srcsetURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPlaceholdersOnce checks that each template is substituted in one
// pass: a widget ID spelled like another placeholder stays text, so the
// token never lands in the embed URL (and the vendor CDN's logs).
func TestPlaceholdersOnce(t *testing.T) {
	for _, id := range []string{"JWT_TOKEN", "JWT_EXP", "JWT_NOW", "WIDGET_ID", "xJWT_TOKENx"} {
		m, err := New(id, KeyPEM(testKeyPEM(t)), fixed(alice), WithLogger(discardLogger()),
			WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js?exp=JWT_EXP"></script>`),
			WithCustomerDataTemplate(`<script>chat("WIDGET_ID", "JWT_TOKEN")</script>`))
		if err != nil {
			t.Fatalf("New(%q): %v", id, err)
		}
		body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
		tok := regexp.MustCompile(`eyJ[A-Za-z0-9_.-]+`).FindString(body)
		wantEmbed := `src="https://cdn.example/w/` + id + `.js?exp=`
		if !strings.Contains(body, wantEmbed) || strings.Count(body, tok) != 1 || !strings.Contains(body, `chat("`+id+`", "`+tok+`")`) {
			t.Errorf("widget ID %q: page = %.400q; want the ID as written in both templates and the token once", id, body)
		}
	}
}

func TestCustomTemplates(t *testing.T) {
	m := newTest(t, fixed(alice), nil,
		WithEmbedTemplate(`<script>(function(d,s){s=d.createElement("script");s.src="https://v.example/WIDGET_ID/l.js";d.head.appendChild(s)})(document)</script>`),
		WithCustomerDataTemplate(`<script>Vendor.identify("WIDGET_ID", "JWT_TOKEN"); var t2 = 'JWT_TOKEN';</script>`),
		WithNonce(func(*http.Request) string { return "abc" }))
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	got := scripts(t, body)
	if len(got) != 2 {
		t.Fatalf("%d scripts, want 2: %s", len(got), body)
	}
	if !strings.Contains(got[0].text, `"https://v.example/test-widget/l.js"`) {
		t.Errorf("embed = %q, want WIDGET_ID replaced", got[0].text)
	}
	if _, ok := got[0].attrs["data-chatwidget"]; !ok || got[0].attrs["nonce"] != "abc" || got[1].attrs["nonce"] != "abc" {
		t.Errorf("script attributes = %v, %v; want the marker on the first and the nonce on both", got[0].attrs, got[1].attrs)
	}
	if strings.Contains(body, "JWT_TOKEN") || strings.Count(got[1].text, `test-widget`) != 1 {
		t.Errorf("customer data = %q, want every placeholder replaced", got[1].text)
	}
	i := strings.Index(got[1].text, `", "`) + 4
	parseToken(t, got[1].text[i:i+strings.IndexByte(got[1].text[i:], '"')])
}

// TestAnonymousTemplate checks the code that tells a widget nobody is
// logged in now.
func TestAnonymousTemplate(t *testing.T) {
	tpl := WithAnonymousTemplate(`<script>Chat.reset("WIDGET_ID")</script>`)
	nonce := WithNonce(func(*http.Request) string { return "n0nce" })
	anon := newTest(t, fixed(nil), nil, tpl, nonce)
	body := serve(anon.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	want := `<script data-chatwidget="" nonce="n0nce" src="https://cdn.example/w/test-widget.js"></script><script nonce="n0nce">Chat.reset("test-widget")</script></body>`
	if !strings.Contains(body, want) {
		t.Errorf("anonymous page = %q, want it to contain %q", body, want)
	}
	in := newTest(t, fixed(alice), nil, tpl)
	if body := serve(in.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String(); strings.Contains(body, "reset") {
		t.Errorf("logged-in page carries the anonymous code: %q", body)
	}
	if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithAnonymousTemplate(`<script>x("JWT_TOKEN")</script>`)); err == nil || !strings.Contains(err.Error(), "anonymous template holds JWT_TOKEN") {
		t.Errorf("New with JWT_TOKEN in the anonymous template = %v, want an error", err)
	}
}

func TestCustomerDataNeedsToken(t *testing.T) {
	for _, tpl := range []string{`<script>Chat.identify("JWT_TOKNE")</script>`, ""} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithCustomerDataTemplate(tpl)); err == nil || !strings.Contains(err.Error(), "no JWT_TOKEN placeholder") {
			t.Errorf("WithCustomerDataTemplate(%q) = %v, want an error", tpl, err)
		}
	}
}

// TestTokenOnlyInRunningScript checks that New refuses a template that puts
// the token anywhere but in the text of a script that runs as JavaScript.
func TestTokenOnlyInRunningScript(t *testing.T) {
	for _, tc := range []struct {
		name, tpl string
		ok        bool
	}{
		{"default", DefaultCustomerDataTemplate, true},
		{"module", `<script type="module">go("JWT_TOKEN")</script>`, true},
		{"javascript type", `<script type=" Text/JavaScript ">go("JWT_TOKEN")</script>`, true},
		{"twice in one script", `<script>a("JWT_TOKEN");b("JWT_TOKEN")</script>`, true},
		{"attribute", `<div data-token="JWT_TOKEN"></div><script>go()</script>`, false},
		{"data block", `<script type="text/plain">JWT_TOKEN</script>`, false},
		{"json block", `<script type="application/json">{"t":"JWT_TOKEN"}</script>`, false},
		{"comment", `<!-- JWT_TOKEN --><script>go("JWT_TOKEN")</script>`, false},
		{"URL", `<img src="https://x.example/?t=JWT_TOKEN"><script>go("JWT_TOKEN")</script>`, false},
		{"text of a src script", `<script src="https://x.example/cd.js">JWT_TOKEN</script>`, false},
		{"markup", `<p>JWT_TOKEN</p><script>go("JWT_TOKEN")</script>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithCustomerDataTemplate(tc.tpl))
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "outside the text of a <script>")) {
				t.Errorf("WithCustomerDataTemplate(%q): New error = %v, want ok %v", tc.tpl, err, tc.ok)
			}
		})
	}
}
