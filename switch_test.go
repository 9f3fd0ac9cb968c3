package chatwidget

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestSwitch serves two widgets, each with its own key, picked by path:
// each page carries its own widget, and its token verifies only with its
// own widget's key.
func TestSwitch(t *testing.T) {
	keyEN, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyDE, _ := rsa.GenerateKey(rand.Reader, 2048)
	opts := []Option{WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`), WithLogger(discardLogger())}
	en, err := New("shop-en", KeyRSA(keyEN), fixed(alice), opts...)
	if err != nil {
		t.Fatal(err)
	}
	de, err := New("shop-de", KeyRSA(keyDE), fixed(alice), append(opts, WithEndpoints("/de/chatwidget/"))...)
	if err != nil {
		t.Fatal(err)
	}
	h := Switch(func(r *http.Request) *Middleware {
		switch {
		case strings.HasPrefix(r.URL.Path, "/de/"):
			return de
		case strings.HasPrefix(r.URL.Path, "/admin/"):
			return nil
		}
		return en
	})(htmlHandler(page))
	keys := map[string]*rsa.PublicKey{"shop-en": &keyEN.PublicKey, "shop-de": &keyDE.PublicKey}
	for _, tc := range []struct{ path, widget string }{{"/en/", "shop-en"}, {"/de/", "shop-de"}, {"/", "shop-en"}} {
		path, widget := tc.path, tc.widget
		body := serve(h, httptest.NewRequest("GET", path, nil)).Body.String()
		if !strings.Contains(body, "/w/"+widget+".js") || strings.Count(body, "data-chatwidget") != 1 {
			t.Errorf("%s: page = %q, want widget %s once", path, body, widget)
		}
		token := tokenIn(t, body)
		for other, pub := range keys {
			_, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{RS256}))
			if (err == nil) != (other == widget) {
				t.Errorf("%s: token of %s verifies with the key of %s: %v", path, widget, other, err == nil)
			}
		}
	}
	if body := serve(h, httptest.NewRequest("GET", "/admin/", nil)).Body.String(); body != page {
		t.Errorf("/admin/: page = %q, want no widget", body)
	}
	// Each widget's own endpoints answer under the prefix that pick sends
	// to it: a tab's refresh gets its own widget's token.
	for _, tc := range []struct{ path, widget string }{{"/chatwidget/token", "shop-en"}, {"/de/chatwidget/token", "shop-de"}} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if body := serve(h, r).Body.String(); !strings.Contains(body, `"widgetId":"`+tc.widget+`"`) {
			t.Errorf("GET %s = %s, want the token of %s", tc.path, body, tc.widget)
		}
	}
}
