package mobileurl

import (
	"net/url"
	"strings"
	"testing"
)

func TestMobileURLEscaping(t *testing.T) {
	const tok = "eyJh.eyJu.c2ln-_" // the characters of a real token
	tests := []struct {
		name            string
		template, id    string
		token, want     string
		wantErrContains string
	}{
		{
			name:     "path and query",
			template: "https://chat.example.com/mobile/WIDGET_ID?jwt=JWT_TOKEN",
			id:       "w-1_a", token: tok,
			want: "https://chat.example.com/mobile/w-1_a?jwt=" + tok,
		},
		{
			name:     "token in the path",
			template: "https://chat.example.com/m/WIDGET_ID/JWT_TOKEN",
			id:       "w1", token: tok,
			want: "https://chat.example.com/m/w1/" + tok,
		},
		{
			name:     "fragment",
			template: "https://chat.example.com/m#id=WIDGET_ID&jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			want: "https://chat.example.com/m#id=w1&jwt=" + tok,
		},
		{
			name:     "path escaping",
			template: "https://chat.example.com/m/JWT_TOKEN",
			id:       "w1", token: "a/b c?d#e%f",
			want: "https://chat.example.com/m/a%2Fb%20c%3Fd%23e%25f",
		},
		{
			name:     "query escaping",
			template: "https://chat.example.com/m?jwt=JWT_TOKEN&x=1",
			id:       "w1", token: "a/b c+d&e=f#g",
			want: "https://chat.example.com/m?jwt=a%2Fb+c%2Bd%26e%3Df%23g&x=1",
		},
		{
			name:     "fragment escaping",
			template: "https://chat.example.com/m#jwt=JWT_TOKEN",
			id:       "w1", token: "a/b c#d?",
			want: "https://chat.example.com/m#jwt=a/b%20c%23d?",
		},
		{
			name:     "each component its own escaping",
			template: "https://chat.example.com/JWT_TOKEN?t=JWT_TOKEN#JWT_TOKEN",
			id:       "w1", token: "a b+c/d",
			want: "https://chat.example.com/a%20b+c%2Fd?t=a+b%2Bc%2Fd#a%20b+c/d",
		},
		{
			name:     "the rest kept as written",
			template: "https://chat.example.com/a%20b/WIDGET_ID?q=1+2&e=%C3%A9&jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			want: "https://chat.example.com/a%20b/w1?q=1+2&e=%C3%A9&jwt=" + tok,
		},
		{
			name:     "widget ID in the host",
			template: "https://WIDGET_ID.chat.example.com/m?jwt=JWT_TOKEN",
			id:       "acme-1", token: tok,
			want: "https://acme-1.chat.example.com/m?jwt=" + tok,
		},
		{
			name:     "app scheme",
			template: "vendorapp://chat/WIDGET_ID?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			want: "vendorapp://chat/w1?jwt=" + tok,
		},
		{
			name:     "opaque",
			template: "vendorapp:WIDGET_ID?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			want: "vendorapp:w1?jwt=" + tok,
		},
		{
			name:     "no widget ID placeholder",
			template: "https://chat.example.com/m?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			want: "https://chat.example.com/m?jwt=" + tok,
		},
		{
			name:     "no token placeholder",
			template: "https://chat.example.com/m/WIDGET_ID",
			id:       "w1", token: tok,
			wantErrContains: "no JWT_TOKEN placeholder",
		},
		{
			name:     "relative",
			template: "/mobile?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			wantErrContains: "not an absolute URL",
		},
		{
			name:     "not a URL",
			template: "https://chat.example.com/%zz?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			wantErrContains: "not a URL",
		},
		{
			name:     "token in the host",
			template: "https://JWT_TOKEN.chat.example.com/",
			id:       "w1", token: tok,
			wantErrContains: "JWT_TOKEN in its host",
		},
		{
			name:     "placeholder in the user info",
			template: "https://WIDGET_ID@chat.example.com/?jwt=JWT_TOKEN",
			id:       "w1", token: tok,
			wantErrContains: "user info",
		},
		{
			name:     "widget ID that cannot be a host",
			template: "https://WIDGET_ID.chat.example.com/?jwt=JWT_TOKEN",
			id:       "a.b/c", token: tok,
			wantErrContains: "cannot stand in a host name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Fill(tc.template, tc.id, tc.token)
			if tc.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContains) {
					t.Fatalf("Fill(%q, %q, %q) = %q, %v; want error containing %q", tc.template, tc.id, tc.token, got, err, tc.wantErrContains)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Fill(%q, %q, %q) = %q, %v; want %q", tc.template, tc.id, tc.token, got, err, tc.want)
			}
		})
	}
}

// TestMobileURLRoundTrip checks that whatever the values, a URL parser gets
// them back from each component.
func TestMobileURLRoundTrip(t *testing.T) {
	var all strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		all.WriteByte(c)
	}
	for _, v := range []string{"eyJh.eyJu.c2ln-_", all.String(), "%zz%", "é ü", "JWT_TOKEN", "+&=#?/"} {
		got, err := Fill("https://chat.example.com/m/WIDGET_ID/JWT_TOKEN?w=WIDGET_ID&t=JWT_TOKEN#JWT_TOKEN", v, v)
		if err != nil {
			t.Fatalf("Fill(…, %q, %q): %v", v, v, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Fill(…, %q, %q) = %q, which does not parse: %v", v, v, got, err)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 4 {
			t.Fatalf("Fill(…, %q, %q) = %q: path has %d segments, want 4", v, v, got, len(segs))
		}
		for _, s := range segs[2:] {
			if p, err := url.PathUnescape(s); err != nil || p != v {
				t.Errorf("Fill(…, %q, %q) = %q: path segment %q decodes to %q, %v", v, v, got, s, p, err)
			}
		}
		q := u.Query()
		if q.Get("w") != v || q.Get("t") != v {
			t.Errorf("Fill(…, %q, %q) = %q: query w=%q t=%q", v, v, got, q.Get("w"), q.Get("t"))
		}
		if u.Fragment != v {
			t.Errorf("Fill(…, %q, %q) = %q: fragment %q", v, v, got, u.Fragment)
		}
	}
}
