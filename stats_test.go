package chatwidget

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/sessions"
)

// secret is a custom field's value that no log record may hold.
const secret = "s3cret-value"

// tokenPattern matches a JWT, or what is left of one cut short.
var tokenPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.`)

// jsonRecords parses the records a JSON handler wrote.
func jsonRecords(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range bytes.Lines(b) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestLogRecords makes each record of the README's Logs tables happen
// through the middleware and checks that it is the only one, its message
// (which starts with "chatwidget: "), level and attributes; that nothing
// is logged while all is well, not even at debug level; and that no record
// holds a token, a field's value or key material.
func TestLogRecords(t *testing.T) {
	store := sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
	long := "/" + strings.Repeat("p", 299) // a path of 300 bytes
	get := func(m *Middleware, path string, header ...string) {
		r := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		serve(m.Handler(htmlHandler(page)), r)
	}
	tests := []struct {
		name     string
		v        *Visitor // the resolver's visitor, unless resolver is set
		resolver Resolver
		failSign bool // the key is in a KMS that cannot be reached
		opts     []Option
		do       func(m *Middleware)
		msg      string   // the one record's message, or its start; "": no record
		level    string   // its level
		attrs    []string // the attributes it carries
	}{
		{name: "all is well", v: alice, do: func(m *Middleware) {
			get(m, "/")
			get(m, "/", "Sec-Fetch-Dest", "empty")
			serve(m.Handler(htmlHandler(page, "Content-Type", "application/json")), httptest.NewRequest("GET", "/api", nil))
			serve(m.Handler(http.NotFoundHandler()), httptest.NewRequest("HEAD", "/", nil))
			serve(m.TokenHandler(), httptest.NewRequest("GET", "/chatwidget/token", nil))
			serve(m.JWKSHandler(), httptest.NewRequest("GET", "/chatwidget/jwks.json", nil))
		}},
		{name: "anonymous, all is well", do: func(m *Middleware) { get(m, "/") }},
		{name: "resolver failed", resolver: ResolverFunc(func(*http.Request) (*Visitor, error) { return nil, io.ErrUnexpectedEOF }),
			do:  func(m *Middleware) { get(m, long) },
			msg: "chatwidget: resolver failed; serving the page as anonymous", level: "ERROR", attrs: []string{"error", "path"}},
		{name: "resolver panicked", resolver: ResolverFunc(func(*http.Request) (*Visitor, error) { panic("boom") }),
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: resolver panicked; serving the page as anonymous", level: "ERROR", attrs: []string{"panic", "path"}},
		{name: "cannot sign", v: alice, failSign: true,
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: cannot sign the visitor's token; serving the anonymous widget", level: "ERROR", attrs: []string{"error", "path"}},
		{name: "cannot build the mobile URL", v: alice, failSign: true, opts: []Option{WithMobileURLTemplate("https://chat.example/m?t=JWT_TOKEN")},
			do:  func(m *Middleware) { serve(m.MobileHandler(), httptest.NewRequest("GET", "/chat/mobile", nil)) },
			msg: "chatwidget: cannot build the mobile URL", level: "ERROR", attrs: []string{"error", "path"}},
		{name: "cannot build the mobile URL: the same kind as a signature", v: alice, failSign: true, opts: []Option{WithMobileURLTemplate("https://chat.example/m?t=JWT_TOKEN")},
			do: func(m *Middleware) {
				get(m, "/")
				serve(m.MobileHandler(), httptest.NewRequest("GET", "/chat/mobile", nil))
			},
			msg: "chatwidget: cannot sign the visitor's token", level: "ERROR", attrs: []string{"error", "path"}},
		{name: "custom fields dropped", v: &Visitor{Name: "A", Fields: map[string]any{"email": secret, "Tags": []string{secret}, "": secret}},
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: custom fields dropped: a label is a reserved claim, ", level: "WARN", attrs: []string{"reserved", "unsupported", "types", "bad_labels"}},
		{name: "fields too large", v: &Visitor{Name: "A", Fields: map[string]any{"Notes": secret + strings.Repeat("x", 100)}}, opts: []Option{WithMaxFieldsSize(64)},
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: custom fields dropped: too large for a token; ", level: "WARN", attrs: []string{"bytes", "limit"}},
		{name: "token too large", v: &Visitor{Name: "A", Fields: map[string]any{"Notes": secret + strings.Repeat("x", 600)}}, opts: []Option{WithMaxTokenSize(1024)},
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: custom fields dropped: the token would be over the limit of WithMaxTokenSize", level: "WARN", attrs: []string{"bytes", "limit"}},
		{name: "visitor too large", v: &Visitor{Name: strings.Repeat("A", 1000)}, opts: []Option{WithMaxTokenSize(1024)},
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: visitor served as anonymous: name, email and subject make a token over the limit ", level: "WARN", attrs: []string{"bytes", "limit"}},
		{name: "nonce not base64", v: alice, opts: []Option{WithNonce(func(*http.Request) string { return `"><script>` })},
			do:  func(m *Middleware) { get(m, "/") },
			msg: "chatwidget: CSP nonce is not base64; leaving it out", level: "WARN", attrs: []string{"path"}},
		{name: "Snippet too late", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					io.WriteString(w, "already out; ")
					io.WriteString(w, string(m.Snippet(r)))
				})), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: Snippet was called after the response's headers went out ", level: "WARN", attrs: []string{"path"}},
		{name: "session cookie undecodable", resolver: SessionResolver(store, "sess", SessionKeys{Name: "name"}),
			do:  func(m *Middleware) { get(m, "/", "Cookie", "sess=garbage") },
			msg: "chatwidget: session cookie cannot be decoded; serving the page as anonymous", level: "DEBUG", attrs: []string{"error", "path"}},
		{name: "token request from another origin", v: alice,
			do: func(m *Middleware) {
				r := httptest.NewRequest("GET", "/chatwidget/token", nil)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
				serve(m.TokenHandler(), r)
			},
			msg: "chatwidget: token request from another origin refused", level: "DEBUG", attrs: []string{"origin", "sec-fetch-site"}},
		{name: "no widget in this page", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(`<!DOCTYPE html><frameset><frame src="https://a.example/"></frameset>`)), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: no place where a browser would surely run it", level: "DEBUG", attrs: []string{"reason", "path"}},
		{name: "no widget: a page ending in a comment", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(`<!DOCTYPE html><p>x<!-- no end`)), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: it has no </body> or </html> end tag", level: "WARN", attrs: []string{"reason", "path"}},
		{name: "no widget: shift_jis", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(page, "Content-Type", "text/html; charset=shift_jis")), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: its charset is not one the snippet may go into", level: "WARN", attrs: []string{"reason", "path"}},
		{name: "no widget: Content-Encoding", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(page, "Content-Encoding", "compress")), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: its Content-Encoding is not one the middleware decodes", level: "WARN", attrs: []string{"reason", "path"}},
		{name: "no widget: undecodable", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(page, "Content-Encoding", "gzip")), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: its body does not decode as its Content-Encoding says", level: "WARN", attrs: []string{"reason", "path"}},
		{name: "no widget: CSP", v: alice,
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(page, "Content-Security-Policy", "script-src 'sha256-AAAA'")), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: no widget in this page: its Content-Security-Policy would block the inserted scripts", level: "WARN", attrs: []string{"reason", "path"}},
		{name: "refresh script left out for the CSP", v: alice, opts: []Option{WithRefresh(Refresh{Update: "ChatWidget.setToken"})},
			do: func(m *Middleware) {
				serve(m.Handler(htmlHandler(page, "Content-Security-Policy", "default-src 'none'; script-src 'nonce-n1'")), httptest.NewRequest("GET", "/", nil))
			},
			msg: "chatwidget: the page's Content-Security-Policy blocks the refresh script's fetch() of the token endpoint", level: "WARN", attrs: []string{"reason", "path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf logBuffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			resolver, key := tc.resolver, KeyPEM(testKeyPEM(t))
			if resolver == nil {
				resolver = fixed(tc.v)
			}
			if tc.failSign {
				key = KeySigner(failingSigner{testPublicKey(t)})
			}
			opts := append([]Option{WithLogger(logger), WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`)}, tc.opts...)
			m, err := New("test-widget", key, resolver, opts...)
			if err != nil {
				t.Fatal(err)
			}
			tc.do(m)
			out := []byte(buf.String())
			records := jsonRecords(t, out)
			if tc.msg == "" {
				if len(records) != 0 {
					t.Fatalf("log = %s, want nothing", out)
				}
				return
			}
			if len(records) != 1 {
				t.Fatalf("log = %s, want one record", out)
			}
			r := records[0]
			if msg, _ := r["msg"].(string); !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("msg = %q, want %q…", msg, tc.msg)
			}
			if r["level"] != tc.level {
				t.Errorf("level = %v, want %s", r["level"], tc.level)
			}
			for _, a := range tc.attrs {
				if _, ok := r[a]; !ok {
					t.Errorf("record %s lacks %q", out, a)
				}
			}
			if p, ok := r["path"].(string); ok && len(p) > 200+len("…") {
				t.Errorf("path = %q (%d bytes), want it cut to 200 bytes", p, len(p))
			}
			if tokenPattern.Match(out) || bytes.Contains(out, []byte(secret)) {
				t.Errorf("log = %s, holds a token or a field's value", out)
			}
			assertNoKeyMaterial(t, string(out), testKeyPEM(t))
		})
	}
}

// TestLogRecordLabels checks the labels a fields record names: at most
// ten, each cut to 40 bytes.
func TestLogRecordLabels(t *testing.T) {
	fields := map[string]any{}
	for i := range 12 {
		fields[strings.Repeat(string(rune('a'+i)), 50)] = []int{i}
	}
	var buf logBuffer
	m := newTest(t, fixed(&Visitor{Name: "A", Fields: fields}), nil, WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
	records := jsonRecords(t, []byte(buf.String()))
	if len(records) != 1 {
		t.Fatalf("log = %s, want one record", buf.String())
	}
	labels, _ := records[0]["unsupported"].([]any)
	if len(labels) != 10 {
		t.Errorf("record names %d labels, want 10: %v", len(labels), labels)
	}
	for _, l := range labels {
		if s, _ := l.(string); s != s[:1]+strings.Repeat(s[:1], 39)+"…" {
			t.Errorf("label %q, want its first 40 bytes and …", s)
		}
	}
}

// hugeSigner is a key whose every signature fails with an error of 10 KB.
type hugeSigner struct{ pub crypto.PublicKey }

func (h hugeSigner) Public() crypto.PublicKey { return h.pub }

func (hugeSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("kms: " + strings.Repeat("é", 5000))
}

// TestLogRecordsBounded checks that what a record carries of an error, a
// panic value or a refusal's reason is cut to its first 200 bytes (at a
// rune boundary, then …), as the path is: a resolver, a signer or a
// decoder can make them of any size.
func TestLogRecordsBounded(t *testing.T) {
	huge := strings.Repeat("x", 10_000)
	tests := []struct {
		name     string
		resolver Resolver
		key      func(t *testing.T) Key
		do       func(m *Middleware)
		attr     string
	}{
		{name: "resolver error", resolver: ResolverFunc(func(*http.Request) (*Visitor, error) { return nil, errors.New(huge) }), attr: "error"},
		{name: "resolver panic", resolver: ResolverFunc(func(*http.Request) (*Visitor, error) { panic(huge) }), attr: "panic"},
		{name: "signer error", resolver: fixed(alice), key: func(t *testing.T) Key { return KeySigner(hugeSigner{testPublicKey(t)}) }, attr: "error"},
		{name: "mobile URL", resolver: fixed(alice), key: func(t *testing.T) Key { return KeySigner(hugeSigner{testPublicKey(t)}) }, attr: "error",
			do: func(m *Middleware) { serve(m.MobileHandler(), httptest.NewRequest("GET", "/chat/mobile", nil)) }},
		{name: "refusal reason", resolver: fixed(alice), attr: "reason",
			do: func(m *Middleware) { m.noteRefused(httptest.NewRequest("GET", "/", nil), refusedUndecodable, huge) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf logBuffer
			key := KeyPEM(testKeyPEM(t))
			if tc.key != nil {
				key = tc.key(t)
			}
			m, err := New("test-widget", key, tc.resolver, WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))),
				WithMobileURLTemplate("https://chat.example/m?t=JWT_TOKEN"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.do != nil {
				tc.do(m)
			} else {
				serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
			}
			records := jsonRecords(t, []byte(buf.String()))
			if len(records) != 1 {
				t.Fatalf("log = %s, want one record", buf.String())
			}
			v, _ := records[0][tc.attr].(string)
			if len(v) > 200+len("…") || !strings.HasSuffix(v, "…") || !utf8.ValidString(v) {
				t.Errorf("%s = %q (%d bytes), want it cut to 200 bytes at a rune boundary, then …", tc.attr, v, len(v))
			}
		})
	}
}
