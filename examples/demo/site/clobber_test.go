package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
)

// The timing of TestBrowserClobberedVendor. The refresh script first
// fetches clobberBefore ahead of the page token's exp; after a failure it
// waits max(1s, min(30s, what is left of the token / 2)), here 1.25s, so the
// retry comes about 1.25s before that exp: the widget, loaded then, still
// verifies the page's token, and the retry's token replaces it in time.
const (
	clobberTTL    = 6 * time.Second
	clobberBefore = 2500 * time.Millisecond
	// minBackoff is the refresh script's shortest wait after a failure;
	// clobberSlack allows for the requests' trips.
	minBackoff   = time.Second
	clobberSlack = 100 * time.Millisecond
)

// clobberJS returns, once the page is parsed, the name of what reading the
// vendor's function through window.ChatWidgetSim throws (SecurityError when
// the cross-origin frame named ChatWidgetSim has its document of the other
// origin); null before that, or when the read does not throw.
var clobberJS = `(function () {
  if (document.readyState === "loading") { return null; }
  try {
    var o = window.` + vendorObject + `;
    if (o == null) { return null; }
    void o.` + strings.TrimPrefix(widgetsim.UpdateHook, vendorObject+".") + `;
    return null;
  } catch (e) {
    return e.name;
  }
})()`

// vendorObject is the global the stand-in vendor defines, at the head of
// widgetsim.UpdateHook: ChatWidgetSim.
var vendorObject, _, _ = strings.Cut(widgetsim.UpdateHook, ".")

// clobberedPage is what TestBrowserClobberedVendor reads of its page before
// the vendor has loaded.
type clobberedPage struct {
	Hook   string `json:"hook"`   // typeof the refresh script's ExpiredHook
	Vendor bool   `json:"vendor"` // whether the widget's panel is there
	HTML   string `json:"html"`
}

// A tokenHit is one request to the token endpoint: when it arrived and,
// once served, what it answered.
type tokenHit struct {
	at     time.Time
	answer []byte
}

// tokenHits records the requests to the token endpoint, and signals each
// arrival.
type tokenHits struct {
	mu      sync.Mutex
	hits    []tokenHit
	arrived chan struct{}
}

// arrive records a request arriving now and returns its index.
func (h *tokenHits) arrive() int {
	h.mu.Lock()
	h.hits = append(h.hits, tokenHit{at: time.Now()})
	n := len(h.hits) - 1
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	return n
}

// answered records what request i was answered.
func (h *tokenHits) answered(i int, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits[i].answer = body
}

// all returns the requests so far.
func (h *tokenHits) all() []tokenHit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.hits)
}

// waitFor waits, for at most timeout, until n requests have arrived, and
// returns them; it fails the test with why when they do not.
func (h *tokenHits) waitFor(t *testing.T, n int, timeout time.Duration, why string) []tokenHit {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if all := h.all(); len(all) >= n {
			return all
		}
		select {
		case <-h.arrived:
		case <-deadline:
			t.Fatalf("%d requests for %s within %v, want %d: %s", len(h.all()), tokenPath, timeout, n, why)
		}
	}
}

// teeWriter keeps a copy of the body it writes.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestBrowserClobberedVendor is the regression test, in headless Chromium,
// of a refresh script that died on a clobbered vendor name. The page's
// markup has <iframe name=ChatWidgetSim> of another origin, so until the
// vendor's script defines window.ChatWidgetSim, that name is the frame, and
// reading ChatWidgetSim.setToken (the Update path) throws a SecurityError.
// The vendor's script is held by the site until the token endpoint is asked
// a second time, so the refresh script's first attempt, from its timer,
// gets a fresh token and meets the frame: it must back off and try again,
// not die (the script before the fix threw inside the fetch's then, and
// neither retried nor re-armed its timer). The second request is answered
// once the widget runs; the widget must then hold the retry's token and
// show Alice past the page token's exp.
func TestBrowserClobberedVendor(t *testing.T) {
	exe := requireBrowser(t, "TestBrowserClobberedVendor, the browser test of a vendor name clobbered by a cross-origin frame,")

	frames := newRequestLog()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frames.record(r.URL.Path)
		if r.URL.Path != "/frame" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>Other</title></head><body><p>A frame of another origin.</p></body></html>`)
	}))
	t.Cleanup(other.Close)

	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	stop := make(chan struct{}) // releases held requests before srv.Close waits for them
	t.Cleanup(func() { close(stop) })
	origin := "http://" + srv.Listener.Addr().String()
	if origin == other.URL {
		t.Fatalf("the frame's server has the site's origin %s", origin)
	}

	var logs syncBuffer
	alice := &chatwidget.Visitor{Name: aliceVisitor.name, Email: aliceVisitor.email, Subject: aliceVisitor.sub,
		Fields: map[string]any{"User ID": "u-1001", "Plan": "Pro"}}
	refresh := widgetsim.RefreshConfig(tokenPath)
	refresh.Before = clobberBefore
	mw, err := chatwidget.New(testWidgetID, testKey(),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return alice, nil }),
		chatwidget.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		chatwidget.WithTTL(clobberTTL),
		chatwidget.WithTokenCacheBytes(0), // every answer a fresh token, the first one included
		chatwidget.WithEndpoints(""),      // the mux below answers tokenPath, to count and hold requests
		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(origin, simPrefix)),
		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
		chatwidget.WithRefresh(refresh))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := widgetsim.New(mw.PublicKeyPEM(), widgetsim.WithSkew(0))
	if err != nil {
		t.Fatal(err)
	}

	vendor := make(chan struct{})    // closed: the vendor's script may load
	widgetRan := make(chan struct{}) // closed: the widget asked the vendor to verify
	var vendorOnce, ranOnce sync.Once
	hits := &tokenHits{arrived: make(chan struct{}, 100)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><title>Clobbered</title><link rel="icon" href="data:,"></head>` +
			`<body><p>A page whose markup names a frame of another origin after the vendor's object.</p>` +
			`<iframe name="` + vendorObject + `" src="` + other.URL + `/frame" title="Another origin"></iframe></body></html>`))
	})
	token := mw.TokenHandler()
	mux.HandleFunc(tokenPath, func(w http.ResponseWriter, r *http.Request) {
		i := hits.arrive()
		if i > 0 {
			// The refresh script tried again: let the vendor load, and
			// answer once the widget runs, so that its setToken is there.
			vendorOnce.Do(func() { close(vendor) })
			select {
			case <-widgetRan:
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
		tw := &teeWriter{ResponseWriter: w}
		token.ServeHTTP(tw, r)
		hits.answered(i, tw.body.Bytes())
	})
	vendorJS := sim.Handler()
	mux.HandleFunc("GET "+testEmbedSrc, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-vendor:
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
		vendorJS.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST "+simPrefix+"verify", func(w http.ResponseWriter, r *http.Request) {
		ranOnce.Do(func() { close(widgetRan) }) // window.ChatWidgetSim is the widget's now
		vendorJS.ServeHTTP(w, r)
	})
	mux.Handle(simPrefix, vendorJS)
	srv.Config.Handler = mw.Handler(mux)

	b := newBrowser(t, exe, &testSite{site: site{Handler: srv.Config.Handler, PublicKey: mw.PublicKeyPEM()}, srv: srv})
	start := time.Now()
	// The page's load waits for the held vendor script: navigate without
	// waiting for it.
	if res, err := chromedp.Call(b.ctx, page.Navigate, page.NavigateParams{URL: b.base + "/"}); err != nil || res.ErrorText != "" {
		t.Fatalf("navigate to /: %v %s", err, res.ErrorText)
	}

	// The clobber is in force before the refresh script's first attempt.
	thrown, err := chromedp.Run(b.ctx, chromedp.Poll[string](clobberJS,
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(settleTimeout)))
	if err != nil || thrown != "SecurityError" {
		t.Fatalf("reading window.%s: %q, %v; want a SecurityError from the frame of another origin", widgetsim.UpdateHook, thrown, err)
	}
	pg, err := chromedp.Run(b.ctx, chromedp.Evaluate[clobberedPage](`({hook: typeof window.`+widgetsim.ExpiredHook+
		`, vendor: document.getElementById("cw-panel") !== null, html: document.documentElement.outerHTML})`))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	if pg.Hook != "function" || pg.Vendor {
		t.Fatalf("window.%s is a %s, panel there %v; want the refresh script in the page and no vendor yet", widgetsim.ExpiredHook, pg.Hook, pg.Vendor)
	}
	if n := len(hits.all()); n != 0 {
		t.Fatalf("the refresh script asked %s %d times before the frame was of another origin; the test proves nothing", tokenPath, n)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(pageToken(t, []byte(pg.HTML)), claims); err != nil {
		t.Fatal(err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		t.Fatalf("the page's token has no exp: %v", err)
	}

	// The first attempt, from the timer, meets the frame; the second comes
	// after a back-off.
	hits.waitFor(t, 1, time.Until(exp.Time)+time.Second, "the refresh script never fetched a token")
	got := hits.waitFor(t, 2, clobberTTL,
		"after the Update path threw (window."+vendorObject+" is a frame of another origin), the refresh script did not try again: refresh is dead for the tab")
	gap := got[1].at.Sub(got[0].at)
	t.Logf("the refresh script tried again %v after its first attempt", gap.Round(time.Millisecond))
	if gap < minBackoff-clobberSlack {
		t.Errorf("the refresh script tried again %v after its first attempt, want a back-off of %v at least", gap, minBackoff)
	}

	// The widget gets the retry's token and keeps Alice past the page
	// token's exp.
	past := exp.Add(time.Second).UnixMilli() // the widget checks at exp + 250ms
	st := b.poll(t, "the widget past the page token's exp",
		fmt.Sprintf(`p.getAttribute("data-state") !== "loading" && (p.getAttribute("data-state") !== "verified" || Date.now() > %d)`, past),
		time.Until(exp.Time)+settleTimeout)
	if st.State != "verified" || st.At <= past {
		t.Fatalf("panel = %+v past the page token's exp (%v), want verified", st, exp.Time)
	}
	v := b.view(t)
	if v.Name != "Chatting as "+aliceVisitor.name {
		t.Errorf("#cw-name = %q, want Alice's", v.Name)
	}
	var stored jwt.MapClaims
	if err := json.Unmarshal([]byte(v.Storage[visitorKey]), &stored); err != nil {
		t.Fatalf("localStorage[%q] = %q: %v", visitorKey, v.Storage[visitorKey], err)
	}
	checkClaims(t, stored, aliceVisitor)
	if e, _ := stored.GetExpirationTime(); e == nil || !e.After(exp.Time) || e.UnixMilli() <= st.At {
		t.Errorf("the stored visitor's exp = %v, want one after the page token's %v and after now", e, exp.Time)
	}

	// The first attempt had a fresh token to hand over, so it did walk the
	// Update path.
	var first tokenAnswer
	if err := json.Unmarshal(hits.all()[0].answer, &first); err != nil || !first.LoggedIn || first.Token == "" || first.ExpiresAt <= exp.Unix() {
		t.Errorf("the first answer of %s = %+v, %v; want a token expiring after the page's %d", tokenPath, first, err, exp.Unix())
	}
	if p := frames.all(); !slices.Contains(p, "/frame") {
		t.Errorf("the frame's server got %q, want /frame", p)
	}
	b.noProblems(t, &logs)
	t.Logf("the scenario took %v after the browser's start", time.Since(start).Round(time.Millisecond))
}
