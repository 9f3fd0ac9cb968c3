package widgetsim

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// testVisitor is the visitor the test site signs tokens for.
var testVisitor = &chatwidget.Visitor{
	Name:    "Ada Lovelace",
	Email:   "ada@example.com",
	Subject: "u-42",
	Fields: map[string]any{
		"User ID": 42,
		"Plan":    "pro",
		"Beta":    true,
		"Account": uint64(12345678901234567891), // beyond float64's integers
	},
}

func TestVerifyChatwidgetToken(t *testing.T) {
	site := newTestSite(t, testVisitor)
	token := site.pageToken(t)

	rec := post(site.sim.Handler(), "/widgetsim/verify", verifyBody(t, token))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST verify = %d %s, want 200", rec.Code, rec.Body)
	}
	var got struct {
		OK     bool            `json:"ok"`
		Claims json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
	if !got.OK {
		t.Errorf("answer %s: ok = false, want true", rec.Body)
	}
	claims, want := decodeJSON(t, got.Claims), payload(t, token)
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims = %v, want the token's %v", claims, want)
	}
	for k, v := range map[string]any{
		"name": "Ada Lovelace", "isLoggedIn": true, "email": "ada@example.com", "sub": "u-42",
		"User ID": json.Number("42"), "Plan": "pro", "Beta": true, "Account": json.Number("12345678901234567891"),
	} {
		if claims[k] != v {
			t.Errorf("claims[%q] = %#v, want %#v", k, claims[k], v)
		}
	}
}

func TestVerify(t *testing.T) {
	site := newTestSite(t, testVisitor)
	now, key, other := site.now, site.key, site.other
	skew := DefaultSkew
	rs256 := jwt.SigningMethodRS256
	good := func(edit func(jwt.MapClaims)) string { return sign(t, rs256, key, claims(now, edit), nil) }
	pageToken := site.pageToken(t)
	b64 := base64.RawURLEncoding.EncodeToString

	tampered := func() string {
		parts := strings.Split(pageToken, ".")
		c := payload(t, pageToken)
		c["name"] = "Mallory"
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return parts[0] + "." + b64(b) + "." + parts[2]
	}
	withHeader := func(header string) string {
		parts := strings.Split(good(nil), ".")
		return b64([]byte(header)) + "." + parts[1] + "." + parts[2]
	}
	none := func() string {
		return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(now, nil), nil)
	}

	tests := []struct {
		name   string
		token  string
		reason string // "" for a token that verifies
	}{
		{"chatwidget token", pageToken, ""},
		{"hand-made RS256", good(nil), ""},
		{"kid is the key's thumbprint", sign(t, rs256, key, claims(now, nil), map[string]any{"kid": thumbprint(&key.PublicKey)}), ""},
		{"unknown kid", sign(t, rs256, key, claims(now, nil), map[string]any{"kid": "another-key"}), reasonSignature},
		{"kid not a string", sign(t, rs256, key, claims(now, nil), map[string]any{"kid": 7}), reasonSignature},
		{"tampered payload", tampered(), reasonSignature},
		{"signed by another key", sign(t, rs256, other, claims(now, nil), nil), reasonSignature},
		{"other key with its kid", sign(t, rs256, other, claims(now, nil), map[string]any{"kid": thumbprint(&other.PublicKey)}), reasonSignature},
		{"HS256 keyed with the public key PEM", sign(t, jwt.SigningMethodHS256, publicPEM(t, &key.PublicKey), claims(now, nil), nil), reasonMethod},
		{"alg none", none(), reasonMethod},
		{"RS384 by the right key", sign(t, jwt.SigningMethodRS384, key, claims(now, nil), nil), reasonMethod},
		{"PS256 by the right key", sign(t, jwt.SigningMethodPS256, key, claims(now, nil), nil), reasonMethod},
		{"alg missing", withHeader(`{"typ":"JWT"}`), reasonMethod},
		{"alg unknown", withHeader(`{"alg":"XS999","typ":"JWT"}`), reasonMethod},
		{"expired past skew", good(func(c jwt.MapClaims) { c["exp"] = now.Add(-skew - time.Second).Unix() }), reasonExpired},
		{"expired within skew", good(func(c jwt.MapClaims) { c["exp"] = now.Add(-skew + time.Second).Unix() }), ""},
		{"iat in the future", good(func(c jwt.MapClaims) { c["iat"] = now.Add(skew + time.Second).Unix() }), reasonFuture},
		{"iat in the future within skew", good(func(c jwt.MapClaims) { c["iat"] = now.Add(skew - time.Second).Unix() }), ""},
		{"nbf in the future", good(func(c jwt.MapClaims) { c["nbf"] = now.Add(skew + time.Minute).Unix() }), reasonNotYet},
		{"missing exp", good(func(c jwt.MapClaims) { delete(c, "exp") }), reasonNoExp},
		{"missing iat", good(func(c jwt.MapClaims) { delete(c, "iat") }), reasonNoIat},
		{"exp not a number", good(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), reasonMalformed},
		{"missing name", good(func(c jwt.MapClaims) { delete(c, "name") }), reasonNoName},
		{"empty name", good(func(c jwt.MapClaims) { c["name"] = "" }), reasonNoName},
		{"name not a string", good(func(c jwt.MapClaims) { c["name"] = 42 }), reasonNoName},
		{"isLoggedIn false", good(func(c jwt.MapClaims) { c["isLoggedIn"] = false }), reasonNotLoggedIn},
		{"isLoggedIn missing", good(func(c jwt.MapClaims) { delete(c, "isLoggedIn") }), reasonNotLoggedIn},
		{"isLoggedIn a string", good(func(c jwt.MapClaims) { c["isLoggedIn"] = "true" }), reasonNotLoggedIn},
		{"garbage", "this is not a token", reasonMalformed},
		{"empty", "", reasonMalformed},
		{"two segments", "eyJhbGciOiJSUzI1NiJ9.e30", reasonMalformed},
		{"payload not base64", "eyJhbGciOiJSUzI1NiJ9.!!!.sig", reasonMalformed},
		{"payload not JSON", "eyJhbGciOiJSUzI1NiJ9." + b64([]byte("nope")) + ".sig", reasonMalformed},
	}
	h := site.sim.Handler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(h, "/widgetsim/verify", verifyBody(t, tc.token))
			var got verifyResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer %q: %v", rec.Body, err)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
			}
			wantCode, wantOK := http.StatusUnauthorized, false
			if tc.reason == "" {
				wantCode, wantOK = http.StatusOK, true
			}
			if rec.Code != wantCode || got.OK != wantOK || got.Error != tc.reason {
				t.Errorf("verify = %d %s, want %d ok=%v error=%q", rec.Code, rec.Body, wantCode, wantOK, tc.reason)
			}
			if wantOK && got.Claims["name"] != "Ada Lovelace" {
				t.Errorf("claims = %v, want name Ada Lovelace", got.Claims)
			}
		})
	}
}

func TestVerifyReasonsDistinct(t *testing.T) {
	reasons := []string{reasonMalformed, reasonSignature, reasonMethod, reasonExpired, reasonNotYet,
		reasonFuture, reasonNoExp, reasonNoIat, reasonNoName, reasonNotLoggedIn, reasonInvalid}
	seen := map[string]bool{}
	for _, r := range reasons {
		if r == "" || seen[r] {
			t.Errorf("reason %q is empty or given twice", r)
		}
		seen[r] = true
	}
}

func TestVerifyRequest(t *testing.T) {
	key, _ := keys(t)
	sim, err := New(publicPEM(t, &key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	h := sim.Handler()
	tests := []struct {
		name     string
		method   string
		body     string
		wantCode int
	}{
		{"not JSON", http.MethodPost, "token=abc", http.StatusBadRequest},
		{"empty body", http.MethodPost, "", http.StatusBadRequest},
		{"a JSON array", http.MethodPost, `["demo-widget","abc"]`, http.StatusBadRequest},
		{"token not a string", http.MethodPost, `{"widget":"demo-widget","token":5}`, http.StatusBadRequest},
		{"data after the object", http.MethodPost, `{"widget":"demo-widget","token":"a.b.c"} {}`, http.StatusBadRequest},
		{"missing widget", http.MethodPost, `{"token":"a.b.c"}`, http.StatusBadRequest},
		{"bad widget", http.MethodPost, `{"widget":"../x","token":"a.b.c"}`, http.StatusBadRequest},
		{"too large", http.MethodPost, `{"widget":"demo-widget","token":"` + strings.Repeat("a", maxVerifyBody) + `"}`, http.StatusBadRequest},
		{"missing token", http.MethodPost, `{"widget":"demo-widget"}`, http.StatusUnauthorized},
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, `{"widget":"demo-widget","token":"a.b.c"}`, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/widgetsim/verify", strings.NewReader(tc.body)))
			var got verifyResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer %q: %v", rec.Body, err)
			}
			if rec.Code != tc.wantCode || got.OK || got.Error == "" {
				t.Errorf("%s verify %q = %d %s, want %d with ok false and an error", tc.method, tc.body, rec.Code, rec.Body, tc.wantCode)
			}
			if tc.wantCode == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}
		})
	}
}

// TestVerifyRotation pastes two keys, as during a rotation: a token verifies
// with the key its kid names, whichever of the two signed it, and a Sim
// with only the first key rejects the second's tokens.
func TestVerifyRotation(t *testing.T) {
	site, other := keys(t)
	both, err := New(slices.Concat(publicPEM(t, &site.PublicKey), publicPEM(t, &other.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	one, err := New(publicPEM(t, &site.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]*rsa.PrivateKey{"site": site, "other": other} {
		kid, _ := chatwidget.Thumbprint(&key.PublicKey)
		tok := sign(t, jwt.SigningMethodRS256, key, claims(time.Now(), nil), map[string]any{"kid": kid})
		if rec := post(both.Handler(), DefaultPrefix+"verify", verifyBody(t, tok)); rec.Code != 200 {
			t.Errorf("%s key, both pasted: %d %s", name, rec.Code, rec.Body)
		}
		rec := post(one.Handler(), DefaultPrefix+"verify", verifyBody(t, tok))
		if want := map[string]int{"site": 200, "other": 401}[name]; rec.Code != want {
			t.Errorf("%s key, one pasted: %d, want %d", name, rec.Code, want)
		}
	}
}
