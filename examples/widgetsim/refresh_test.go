package widgetsim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// TestRefreshConfig checks that chatwidget takes the configuration as it is
// and that the page then carries the refresh script naming the widget's API.
func TestRefreshConfig(t *testing.T) {
	key, _ := keys(t)
	mw, err := chatwidget.New(testWidget, chatwidget.KeyRSA(key),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return testVisitor, nil }),
		chatwidget.WithEmbedTemplate(EmbedTemplate(testOrigin, DefaultPrefix)),
		chatwidget.WithCustomerDataTemplate(CustomerDataTemplate()),
		chatwidget.WithRefresh(RefreshConfig("/chatwidget/token")),
		chatwidget.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("chatwidget.New(WithRefresh(RefreshConfig(…))) = %v", err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html><body><p>Hello</p></body></html>")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.String()
	for _, want := range []string{`"endpoint":"/chatwidget/token"`, `"update":"` + UpdateHook + `"`, `"logout":"` + LogoutHook + `"`, `"expired":"` + ExpiredHook + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page %q lacks %s", page, want)
		}
	}
}

// TestWidgetAPINames checks that widget.js defines the functions the
// exported names say, and reads the hook's name from its configuration.
func TestWidgetAPINames(t *testing.T) {
	obj, update, _ := strings.Cut(UpdateHook, ".")
	obj2, logout, _ := strings.Cut(LogoutHook, ".")
	if obj != obj2 {
		t.Fatalf("UpdateHook %q and LogoutHook %q are on different objects", UpdateHook, LogoutHook)
	}
	want := "window." + obj + " = { " + update + ": setToken, " + logout + ": logout };"
	if !strings.Contains(widgetJS, want) {
		t.Errorf("widget.js lacks %q", want)
	}
	if !strings.Contains(widgetJS, "config.expiredHook") {
		t.Errorf("widget.js does not read config.expiredHook")
	}
}

// TestWidgetJS runs the widget in Node (testdata/harness.js) with a fake
// page and clock against two Sims, one strict and one with a leeway, whose
// clock follows the page's: the new token, the check at expiry, the hook,
// logout. It is skipped when node is not installed.
func TestWidgetJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	key, other := keys(t)
	pub := publicPEM(t, &key.PublicKey)
	start := time.Now().Truncate(time.Second)
	var clock atomic.Int64 // Unix milliseconds
	clock.Store(start.UnixMilli())
	now := WithClock(func() time.Time { return time.UnixMilli(clock.Load()) })
	const lenientSkew = 5 * time.Second
	strict, err := New(pub, now, WithSkew(0))
	if err != nil {
		t.Fatal(err)
	}
	lenient, err := New(pub, now, WithPrefix("/lenient/"), WithSkew(lenientSkew))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(DefaultPrefix, strict.Handler())
	mux.Handle("/lenient/", lenient.Handler())
	mux.HandleFunc("POST /clock", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		clock.Store(ms)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	type token struct {
		Token string `json:"token"`
		Exp   int64  `json:"exp"`
	}
	tok := func(signer any, iat time.Time, ttl time.Duration) token {
		c := claims(iat, func(c jwt.MapClaims) { c["exp"] = iat.Add(ttl).Unix() })
		return token{sign(t, jwt.SigningMethodRS256, signer, c, nil), iat.Add(ttl).Unix()}
	}
	scenario := map[string]any{
		"start":       start.UnixMilli(),
		"lenientSkew": lenientSkew.Milliseconds(),
		"scripts": map[string]string{
			"strict":  script(t, strict, "/widgetsim/embed/"+testWidget+".js"),
			"lenient": script(t, lenient, "/lenient/embed/"+testWidget+".js"),
		},
		"tokens": map[string]token{
			"first":    tok(key, start, 10*time.Second),
			"second":   tok(key, start, 20*time.Second),
			"third":    tok(key, start, 40*time.Second),
			"expired":  tok(key, start.Add(-20*time.Second), 19*time.Second),
			"tampered": tok(other, start, 10*time.Second),
		},
		"update":      UpdateHook,
		"logout":      LogoutHook,
		"expiredHook": ExpiredHook,
		"storageKey":  "chatwidget:" + testWidget + ":visitor",
		"name":        "Ada Lovelace",
	}
	arg, err := json.Marshal(scenario)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/harness.js", srv.URL, string(arg)).CombinedOutput()
	if err != nil {
		t.Errorf("node testdata/harness.js: %v\n%s", err, out)
	}
}

// script returns the widget script sim serves at path.
func script(t *testing.T, sim *Sim, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, rec.Code)
	}
	return rec.Body.String()
}
