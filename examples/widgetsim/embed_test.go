package widgetsim

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forbiddenJS are what the widget must never use: HTML parsing, code from
// strings, inline style or event attributes. A strict CSP blocks the last
// three; the first two are how a name like <img onerror=…> runs.
var forbiddenJS = []string{
	"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(",
	"cssText", `setAttribute("style"`, `setAttribute("on`, "setTimeout(\"", "createElement(\"style\")",
}

func TestEmbed(t *testing.T) {
	key, _ := keys(t)
	pub := publicPEM(t, &key.PublicKey)
	def, err := New(pub)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := New(pub, WithPrefix("/vendor/chat/"), WithSkew(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		sim      *Sim
		method   string
		path     string
		wantCode int
		wantCfg  string // the configuration the script carries, for 200
	}{
		{"widget", def, http.MethodGet, "/widgetsim/embed/demo-widget.js", http.StatusOK,
			`{"widget":"demo-widget","prefix":"/widgetsim/","verify":"/widgetsim/verify","skew":30000,"expiredHook":"chatWidgetTokenExpired"}`},
		{"longest ID", def, http.MethodGet, "/widgetsim/embed/" + strings.Repeat("A", 128) + ".js", http.StatusOK,
			`{"widget":"` + strings.Repeat("A", 128) + `","prefix":"/widgetsim/","verify":"/widgetsim/verify","skew":30000,"expiredHook":"chatWidgetTokenExpired"}`},
		{"custom prefix", custom, http.MethodGet, "/vendor/chat/embed/Z_9-z.js", http.StatusOK,
			`{"widget":"Z_9-z","prefix":"/vendor/chat/","verify":"/vendor/chat/verify","skew":1500,"expiredHook":"chatWidgetTokenExpired"}`},
		{"HEAD", def, http.MethodHead, "/widgetsim/embed/demo-widget.js", http.StatusOK, ""},
		{"dot dot", def, http.MethodGet, "/widgetsim/embed/../x.js", http.StatusNotFound, ""},
		{"escaped dot dot", def, http.MethodGet, "/widgetsim/embed/..%2Fx.js", http.StatusNotFound, ""},
		{"ID too long", def, http.MethodGet, "/widgetsim/embed/" + strings.Repeat("A", 129) + ".js", http.StatusNotFound, ""},
		{"empty ID", def, http.MethodGet, "/widgetsim/embed/.js", http.StatusNotFound, ""},
		{"dot in ID", def, http.MethodGet, "/widgetsim/embed/a.b.js", http.StatusNotFound, ""},
		{"quote in ID", def, http.MethodGet, `/widgetsim/embed/a%22b.js`, http.StatusNotFound, ""},
		{"no .js", def, http.MethodGet, "/widgetsim/embed/demo-widget", http.StatusNotFound, ""},
		{"sub-directory", def, http.MethodGet, "/widgetsim/embed/a/b.js", http.StatusNotFound, ""},
		{"other path", def, http.MethodGet, "/widgetsim/other", http.StatusNotFound, ""},
		{"outside the prefix", def, http.MethodGet, "/embed/demo-widget.js", http.StatusNotFound, ""},
		{"old prefix", custom, http.MethodGet, "/widgetsim/embed/demo-widget.js", http.StatusNotFound, ""},
		{"POST", def, http.MethodPost, "/widgetsim/embed/demo-widget.js", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.sim.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.wantCode)
			}
			if tc.wantCode != http.StatusOK {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/javascript; charset=utf-8", ct)
			}
			body := rec.Body.String()
			n, _ := strconv.Atoi(rec.Header().Get("Content-Length"))
			if tc.method == http.MethodHead {
				if body != "" || n == 0 {
					t.Errorf("HEAD: body %d bytes, Content-Length %d; want 0 and the length of the script", len(body), n)
				}
				return
			}
			if n != len(body) {
				t.Errorf("Content-Length = %d, want %d", n, len(body))
			}
			if !strings.HasPrefix(body, "(function (config) {\n") || !strings.HasSuffix(body, "\n})("+tc.wantCfg+");\n") {
				t.Errorf("script does not wrap widget.js in a function called with %s:\n%.200s\n…\n%s", tc.wantCfg, body, body[max(0, len(body)-200):])
			}
		})
	}
}

func TestWidgetJSSafe(t *testing.T) {
	for _, s := range forbiddenJS {
		if strings.Contains(widgetJS, s) {
			t.Errorf("widget.js contains %q", s)
		}
	}
}

// TestWidgetJSSyntax checks the served script with Node, when it is
// installed.
func TestWidgetJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	key, _ := keys(t)
	sim, err := New(publicPEM(t, &key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/widgetsim/embed/demo-widget.js", nil))
	path := filepath.Join(t.TempDir(), "widget.js")
	if err := os.WriteFile(path, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
		t.Errorf("node --check widget.js: %v\n%s", err, out)
	}
}

func TestTemplates(t *testing.T) {
	key, _ := keys(t)
	pub := publicPEM(t, &key.PublicKey)
	tests := []struct {
		origin, prefix, wantEmbed string
	}{
		{testOrigin, "", `<script src="http://127.0.0.1:8080/widgetsim/embed/WIDGET_ID.js" defer></script>`},
		{"https://shop.example", "/vendor/chat/", `<script src="https://shop.example/vendor/chat/embed/WIDGET_ID.js" defer></script>`},
		{"http://localhost:1", "/", `<script src="http://localhost:1/embed/WIDGET_ID.js" defer></script>`},
		{`https://a.example/" onload="x`, "/", `<script src="https://a.example/&#34; onload=&#34;x/embed/WIDGET_ID.js" defer></script>`},
	}
	for _, tc := range tests {
		var opts []Option
		if tc.prefix != "" {
			opts = append(opts, WithPrefix(tc.prefix))
		}
		sim, err := New(pub, opts...)
		if err != nil {
			t.Fatalf("New(WithPrefix(%q)) = %v", tc.prefix, err)
		}
		if got := sim.EmbedTemplate(tc.origin); got != tc.wantEmbed {
			t.Errorf("(*Sim).EmbedTemplate(%q) with prefix %q = %q, want %q", tc.origin, tc.prefix, got, tc.wantEmbed)
		}
		if got := EmbedTemplate(tc.origin, sim.prefix); got != tc.wantEmbed {
			t.Errorf("EmbedTemplate(%q, %q) = %q, want %q", tc.origin, sim.prefix, got, tc.wantEmbed)
		}
		if got, want := sim.CustomerDataTemplate(), `<script>window.chatWidgetCustomerData=function(done){done("JWT_TOKEN")};</script>`; got != want {
			t.Errorf("(*Sim).CustomerDataTemplate() = %q, want %q", got, want)
		}
		if got, want := sim.AnonymousTemplate(), `<script>window.chatWidgetAnonymous=true;</script>`; got != want {
			t.Errorf("(*Sim).AnonymousTemplate() = %q, want %q", got, want)
		}
	}
	// The package's functions give the same code without a Sim, so that a
	// site can build its Middleware before the Sim that needs its key.
	if got, want := CustomerDataTemplate(), `<script>window.chatWidgetCustomerData=function(done){done("JWT_TOKEN")};</script>`; got != want {
		t.Errorf("CustomerDataTemplate() = %q, want %q", got, want)
	}
	if got, want := AnonymousTemplate(), `<script>window.chatWidgetAnonymous=true;</script>`; got != want {
		t.Errorf("AnonymousTemplate() = %q, want %q", got, want)
	}
}

// TestSitePages checks that chatwidget, given the Sim's templates, puts the
// widget and the customer data or the anonymous code into the site's pages.
func TestSitePages(t *testing.T) {
	tests := []struct {
		name      string
		visitor   bool
		want, not []string
	}{
		{"logged in", true,
			[]string{`src="http://127.0.0.1:8080/widgetsim/embed/demo-widget.js" defer></script>`, `window.chatWidgetCustomerData=function(done){done("ey`},
			[]string{"chatWidgetAnonymous"}},
		{"anonymous", false,
			[]string{`src="http://127.0.0.1:8080/widgetsim/embed/demo-widget.js" defer></script>`, `window.chatWidgetAnonymous=true;</script>`},
			[]string{"chatWidgetCustomerData"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testVisitor
			if !tc.visitor {
				v = nil
			}
			page := newTestSite(t, v).page(t)
			for _, s := range tc.want {
				if !strings.Contains(page, s) {
					t.Errorf("page %q lacks %q", page, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(page, s) {
					t.Errorf("page %q holds %q", page, s)
				}
			}
		})
	}
}
