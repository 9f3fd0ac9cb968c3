package chatwidget

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestMobileURL(t *testing.T) {
	tests := []struct {
		tpl, want string
	}{
		{"https://chat.example/mobile/WIDGET_ID?token=JWT_TOKEN", "https://chat.example/mobile/test-widget?token=<T>"},
		{"https://chat.example/m?w=WIDGET_ID&t=JWT_TOKEN#x", "https://chat.example/m?w=test-widget&t=<T>#x"},
		{"chatapp://open/WIDGET_ID/JWT_TOKEN", "chatapp://open/test-widget/<T>"},
		{"https://chat.example/m#token=JWT_TOKEN", "https://chat.example/m#token=<T>"},
	}
	for _, tc := range tests {
		m := newTest(t, fixed(alice), nil, WithMobileURLTemplate(tc.tpl))
		got, err := m.MobileURLFor(alice)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, _ := m.TokenFor(alice)
		if strings.Replace(got, tok, "<T>", 1) != tc.want {
			t.Errorf("MobileURL(%q) = %q, want %q", tc.tpl, got, tc.want)
		}
		if _, err := url.Parse(got); err != nil {
			t.Errorf("MobileURL(%q) = %q does not parse: %v", tc.tpl, got, err)
		}
	}
	for _, tc := range []struct {
		tpl  string
		want string
	}{
		{"/relative?t=JWT_TOKEN", "not an absolute URL"},
		{"https://chat.example/WIDGET_ID", "no JWT_TOKEN"},
		{"JWT_TOKEN://x", "not a URL"},
	} {
		tpl, want := tc.tpl, tc.want
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithMobileURLTemplate(tpl)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithMobileURLTemplate(%q) = %v, want an error with %q", tpl, err, want)
		}
	}
	if _, err := newTest(t, fixed(nil), nil).MobileURLFor(alice); err == nil {
		t.Errorf("MobileURL without a template = nil error")
	}
}

// TestMobileHandler checks what an app gets: a logged-in session a 302 to
// its signed URL, or {"url":…} when it asks for JSON (by Accept or
// ?format=json), which goes only to same-origin requests; an anonymous one
// 401 {"loggedIn":false}. Every answer is Cache-Control: no-store.
func TestMobileHandler(t *testing.T) {
	m := newTest(t, ResolverFunc(func(r *http.Request) (*Visitor, error) {
		if r.Header.Get("Cookie") == "" {
			return nil, nil
		}
		return alice, nil
	}), nil, WithMobileURLTemplate("https://chat.example/m/WIDGET_ID?token=JWT_TOKEN"))
	const signedURL = "https://chat.example/m/test-widget?token="
	tests := []struct {
		name     string
		query    string
		header   []string
		wantCode int
		wantURL  bool   // a signed URL in Location (302) or the JSON body (200)
		wantBody string // the whole JSON body otherwise; "": not checked
	}{
		{"redirect", "", []string{"Cookie", "s=1"}, http.StatusFound, true, ""},
		{"format=json", "?format=json", []string{"Cookie", "s=1"}, http.StatusOK, true, ""},
		{"Accept", "", []string{"Cookie", "s=1", "Accept", "application/json"}, http.StatusOK, true, ""},
		{"JSON, same origin", "?format=json", []string{"Cookie", "s=1", "Sec-Fetch-Site", "same-origin"}, http.StatusOK, true, ""},
		{"JSON, cross-site", "?format=json", []string{"Cookie", "s=1", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, false, `{"loggedIn":false,"error":"cross-origin request refused"}`},
		{"JSON, other Origin", "", []string{"Cookie", "s=1", "Accept", "application/json", "Origin", "https://evil.example"}, http.StatusForbidden, false, ""},
		{"anonymous", "", nil, http.StatusUnauthorized, false, `{"loggedIn":false}`},
		{"anonymous, JSON", "?format=json", nil, http.StatusUnauthorized, false, `{"loggedIn":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/chat/mobile"+tc.query, nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			rec := serve(m.MobileHandler(), req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tc.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tc.wantBody {
				t.Errorf("body = %s, want %s", rec.Body, tc.wantBody)
			}
			if !tc.wantURL {
				return
			}
			u := rec.Header().Get("Location")
			if rec.Code == http.StatusOK {
				var body struct{ URL string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q is not JSON: %v", rec.Body, err)
				}
				u = body.URL
			}
			if !strings.HasPrefix(u, signedURL) {
				t.Fatalf("URL = %q, want %s…", u, signedURL)
			}
			parsed, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			if parseToken(t, parsed.Query().Get("token"))["name"] != alice.Name {
				t.Errorf("token in the URL is not alice's")
			}
		})
	}
}
