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
	de, err := New("shop-de", KeyRSA(keyDE), fixed(alice), opts...)
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
	for path, widget := range map[string]string{"/en/": "shop-en", "/de/": "shop-de", "/": "shop-en"} {
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
}
