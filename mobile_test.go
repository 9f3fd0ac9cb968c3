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
	for tpl, want := range map[string]string{
		"/relative?t=JWT_TOKEN":          "not an absolute URL",
		"https://chat.example/WIDGET_ID": "no JWT_TOKEN",
		"JWT_TOKEN://x":                  "not a URL",
	} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), WithMobileURLTemplate(tpl)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithMobileURLTemplate(%q) = %v, want an error with %q", tpl, err, want)
		}
	}
	if _, err := newTest(t, fixed(nil), nil).MobileURLFor(alice); err == nil {
		t.Errorf("MobileURL without a template = nil error")
	}
}

func TestMobileHandler(t *testing.T) {
	m := newTest(t, ResolverFunc(func(r *http.Request) (*Visitor, error) {
		if r.Header.Get("Cookie") == "" {
			return nil, nil
		}
		return alice, nil
	}), nil, WithMobileURLTemplate("https://chat.example/m/WIDGET_ID?token=JWT_TOKEN"))
	h := m.MobileHandler()
	req := httptest.NewRequest("GET", "/chat/mobile", nil)
	req.Header.Set("Cookie", "s=1")
	rec := serve(h, req)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.HasPrefix(loc, "https://chat.example/m/test-widget?token=") {
		t.Fatalf("redirect = %d %q", rec.Code, loc)
	}
	u, _ := url.Parse(loc)
	if parseToken(t, u.Query().Get("token"))["name"] != alice.Name {
		t.Errorf("token in the URL is not alice's")
	}
	req = httptest.NewRequest("GET", "/chat/mobile?format=json", nil)
	req.Header.Set("Cookie", "s=1")
	rec = serve(h, req)
	var body struct{ URL string }
	if json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != 200 || body.URL == "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("JSON = %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := serve(h, httptest.NewRequest("GET", "/chat/mobile", nil)); rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous = %d, want 401", rec.Code)
	}
}
