package chatwidget

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDefaults checks the defaults of the README's Options table, by what
// a Middleware made without the option does. The values are the README's,
// written out, so that a changed default constant fails here too.
func TestDefaults(t *testing.T) {
	quiet := []Option{WithLogger(discardLogger())}
	const embed = `<script data-chatwidget="" async="" src="https://widget.chatwidget.dev/v1/test-widget.js"></script>`
	tests := []struct {
		name  string
		v     *Visitor // what the resolver returns
		opts  []Option
		check func(t *testing.T, m *Middleware, body string) // body: the page served to v
	}{
		{"WithTTL: 10m", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			claims := parseToken(t, tokenIn(t, body))
			iat, _ := claims.GetIssuedAt()
			exp, _ := claims.GetExpirationTime()
			if d := exp.Sub(iat.Time); d != 10*time.Minute {
				t.Errorf("exp - iat = %v, want 10m", d)
			}
		}},
		{"WithIssuer, WithAudience: none", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			claims := parseToken(t, tokenIn(t, body))
			for _, k := range []string{"iss", "aud"} {
				if v, ok := claims[k]; ok {
					t.Errorf("claim %s = %v, want none", k, v)
				}
			}
		}},
		{"WithEmbedTemplate, WithCustomerDataTemplate: the defaults", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			tok := tokenIn(t, body)
			want := embed + `<script>window.chatWidgetCustomerData=function(done){done("` + tok + `")};</script></body>`
			if !strings.Contains(body, want) {
				t.Errorf("page = %q, want it to hold %q", body, want)
			}
		}},
		{"WithAnonymousWidget: on, WithAnonymousTemplate: nothing", nil, quiet, func(t *testing.T, m *Middleware, body string) {
			if want := strings.Replace(page, "</body>", embed+"</body>", 1); body != want {
				t.Errorf("anonymous page = %q, want %q", body, want)
			}
		}},
		{"WithNonce: none", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if strings.Contains(body, "nonce") {
				t.Errorf("page = %q, want no nonce", body)
			}
		}},
		{"WithLogger: slog.Default()", alice, nil, func(t *testing.T, m *Middleware, body string) {
			if m.logger != slog.Default() {
				t.Errorf("logger = %v, want slog.Default()", m.logger)
			}
		}},
		{"WithLogInterval: 1m", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if m.logs.every != time.Minute {
				t.Errorf("log interval = %v, want 1m", m.logs.every)
			}
		}},
		{"WithTokenCacheBytes: 128 MiB", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if b := m.Stats().TokenCacheBudget; b != 128<<20 {
				t.Errorf("token cache budget = %d, want 128 MiB", b)
			}
		}},
		{"WithMaxTokenSize, WithMaxFieldsSize: 8 KiB", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if m.signer.maxToken != 8192 || m.signer.maxFields != 8192 {
				t.Errorf("limits: token %d, fields %d bytes; want 8 KiB each", m.signer.maxToken, m.signer.maxFields)
			}
		}},
		{"WithPublishedKeys: none", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if n := strings.Count(string(m.JWKS()), `"kty"`); n != 1 {
				t.Errorf("JWKS = %s, want the signing key alone", m.JWKS())
			}
			if n := strings.Count(string(m.PublishedKeysPEM()), "BEGIN PUBLIC KEY"); n != 1 {
				t.Errorf("PublishedKeysPEM has %d keys, want the signing key alone", n)
			}
		}},
		{"WithRefresh: none", alice, quiet, func(t *testing.T, m *Middleware, body string) {
			if n := len(scripts(t, body)); n != 2 || strings.Contains(body, "fetch(") {
				t.Errorf("page has %d scripts, want the embed and customer-data code alone: %q", n, body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New("test-widget", KeyPEM(testKeyPEM(t)), fixed(tc.v), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, m, serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String())
		})
	}
}
