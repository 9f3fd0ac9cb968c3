package site

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/chromedp/chromedp"
)

// requestLog records the paths a server was asked for, and signals each.
type requestLog struct {
	mu    sync.Mutex
	paths []string
	seen  chan string
}

func newRequestLog() *requestLog { return &requestLog{seen: make(chan string, 100)} }

func (l *requestLog) record(path string) {
	l.mu.Lock()
	l.paths = append(l.paths, path)
	l.mu.Unlock()
	select {
	case l.seen <- path:
	default:
	}
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.paths)
}

// waitFor waits, for at most timeout, until path was asked for.
func (l *requestLog) waitFor(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case p := <-l.seen:
			if p == path {
				return
			}
		case <-deadline:
			t.Fatalf("no request for %s within %v; requests: %q", path, timeout, l.all())
		}
	}
}

// TestBrowserBaseHref loads, in headless Chromium, a page whose markup has
// a <base href> pointing at an attacker's server, and no CSP to stop it
// (the demo's own pages send base-uri 'none'): the widget must still load
// from the site, post its token to the site's verify endpoint, and the
// refresh script must fetch the site's token endpoint; the attacker gets
// only the page's own relative image, which shows that the base was in
// force.
func TestBrowserBaseHref(t *testing.T) {
	exe := requireBrowser(t, "TestBrowserBaseHref, the browser test of a page with a hostile <base href>,")
	attacker := newRequestLog()
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attacker.record(r.URL.Path)
		http.NotFound(w, r)
	}))
	t.Cleanup(evil.Close)

	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	origin := "http://" + srv.Listener.Addr().String()
	alice := &chatwidget.Visitor{Name: aliceVisitor.name, Email: aliceVisitor.email, Subject: aliceVisitor.sub,
		Fields: map[string]any{"User ID": "u-1001", "Plan": "Pro"}}
	mw, err := chatwidget.New(testWidgetID, testKey(),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return alice, nil }),
		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(origin, simPrefix)),
		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
		chatwidget.WithRefresh(widgetsim.RefreshConfig(tokenPath)))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := widgetsim.New(mw.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	ours := newRequestLog()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><title>Base</title><link rel="icon" href="data:,"><base href="` + evil.URL + `/"></head>` +
			`<body><p>A page with markup the site does not control.</p><img src="probe.png" alt=""></body></html>`))
	})
	mux.Handle(tokenPath, mw.TokenHandler())
	mux.Handle(simPrefix, sim.Handler())
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ours.record(r.URL.Path)
		mw.Handler(mux).ServeHTTP(w, r)
	})

	b := newBrowser(t, exe, &testSite{site: site{Handler: srv.Config.Handler, PublicKey: mw.PublicKeyPEM()}, srv: srv})
	b.open(t, "/")
	attacker.waitFor(t, "/probe.png", settleTimeout) // the base is in force
	b.isVerified(t, aliceVisitor)                    // the widget, from the site, verified at the site

	// The widget reports an expired token: the refresh script fetches one.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any]("window."+widgetsim.ExpiredHook+"(), true")); err != nil {
		t.Fatalf("call %s: %v", widgetsim.ExpiredHook, err)
	}
	ours.waitFor(t, tokenPath, settleTimeout)
	b.poll(t, "the refreshed token verified", `p.getAttribute("data-state") === "verified"`, settleTimeout)

	if got := attacker.all(); !slices.Equal(got, []string{"/probe.png"}) {
		t.Errorf("the attacker's server got %q, want only the page's own /probe.png", got)
	}
	for _, p := range []string{testEmbedSrc, simPrefix + "verify", tokenPath} {
		if !slices.Contains(ours.all(), p) {
			t.Errorf("the site got no request for %s: %q", p, ours.all())
		}
	}
}
