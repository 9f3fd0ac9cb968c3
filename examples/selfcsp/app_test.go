package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/klauspost/compress/zstd"
)

// codings are the Content-Encodings the app's pages go out in.
var codings = []string{"identity", "gzip", "deflate", "br", "zstd"}

// header returns the Content-Encoding header of coding enc.
func header(enc string) string {
	if enc == "identity" {
		return ""
	}
	return enc
}

// logBuffer collects the middleware's log records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testSite serves the app on a test server, with a control page at
// /control: the app's page with the widget placed by hand and no nonce,
// which the page's policy must block.
func testSite(t *testing.T) (*httptest.Server, *site, *logBuffer) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	var s *site
	outer := http.NewServeMux()
	srv := httptest.NewUnstartedServer(outer)
	srv.Start()
	t.Cleanup(srv.Close)
	s, err = newApp(srv.URL, key, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	outer.HandleFunc("GET /control", func(w http.ResponseWriter, r *http.Request) {
		snippet, _ := s.mw.SnippetFor(users["alice"])
		var b bytes.Buffer
		pageTemplate.Execute(&b, pageData{Title: "Control", Items: []string{"x"}})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(bytes.Replace(b.Bytes(), []byte("</body>"), []byte(string(snippet)+"</body>"), 1))
	})
	outer.HandleFunc("GET /late-policy", func(w http.ResponseWriter, r *http.Request) {
		// The home page, with a policy the middleware never sees: a
		// header added as the response's headers go out, past it.
		r = r.Clone(r.Context())
		r.URL.Path = "/"
		s.handler.ServeHTTP(&lateHeader{ResponseWriter: w, key: "Content-Security-Policy", value: "connect-src " + srv.URL + "/widgetsim/"}, r)
	})
	outer.Handle("/", s.handler)
	return srv, s, logs
}

// lateHeader adds a header to a response as its headers go out.
type lateHeader struct {
	http.ResponseWriter
	key, value string
	sent       bool
}

func (l *lateHeader) WriteHeader(code int) {
	if !l.sent {
		l.sent = true
		l.Header().Add(l.key, l.value)
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *lateHeader) Write(p []byte) (int, error) {
	if !l.sent {
		l.WriteHeader(http.StatusOK)
	}
	return l.ResponseWriter.Write(p)
}

// get fetches path as Alice's browser would navigate to it, with the
// Content-Encoding enc, and returns the response and its decoded body.
func get(t *testing.T, h http.Handler, path, enc string) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path+"?enc="+enc, nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	req.AddCookie(&http.Cookie{Name: "user", Value: "alice"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Encoding"); got != header(enc) {
		t.Fatalf("GET %s?enc=%s: Content-Encoding %q", path, enc, got)
	}
	var r io.Reader = rec.Body
	var err error
	switch enc {
	case "gzip":
		r, err = gzip.NewReader(r)
	case "deflate":
		r, err = zlib.NewReader(r)
	case "br":
		r = brotli.NewReader(r)
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(r)
		r = d
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("GET %s?enc=%s: decoding: %v", path, enc, err)
	}
	return rec, b
}

// nonces matches the nonces in a page, which change with each response.
var nonces = regexp.MustCompile(`nonce(-|=")(&#43;|&#61;|[A-Za-z0-9+/=])+`)

// TestPagesAsServed checks the bytes: each compressed page decodes to the
// app's own page with the widget inserted before </body>, its scripts
// carrying the nonce of the page's <meta> (or header); the JSON goes out as
// the app wrote it; the hash-only page is left as it was, with a warning.
func TestPagesAsServed(t *testing.T) {
	_, s, logs := testSite(t)
	for _, path := range []string{"/", "/header"} {
		_, bare := get(t, s.mux, path, "identity")
		for _, enc := range codings {
			rec, got := get(t, s.handler, path, enc)
			at := bytes.Index(got, []byte("<script data-chatwidget"))
			end := bytes.LastIndex(got, []byte("</body>"))
			if at < 0 || end < at {
				t.Fatalf("GET %s?enc=%s: no widget before </body>: %s", path, enc, got)
			}
			if a, b := nonces.ReplaceAll(append(got[:at:at], got[end:]...), nil), nonces.ReplaceAll(bare, nil); !bytes.Equal(a, b) {
				t.Errorf("GET %s?enc=%s: decoded page less the snippet =\n%s\nwant the app's page\n%s", path, enc, a, b)
			}
			pageNonce := regexp.MustCompile(`<script nonce="([^"]+)">document`).FindSubmatch(got)
			for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAll(got[at:end], -1) {
				if pageNonce == nil || !bytes.Contains(m, []byte(`nonce="`+html.UnescapeString(string(pageNonce[1]))+`"`)) {
					t.Errorf("GET %s?enc=%s: inserted %s, want the page's nonce", path, enc, m)
				}
			}
			if v := rec.Header().Values("Vary"); strings.Count(strings.Join(v, ","), "Accept-Encoding") != 1 {
				t.Errorf("GET %s?enc=%s: Vary = %q, want the app's Accept-Encoding once", path, enc, v)
			}
		}
	}
	for _, enc := range codings {
		bareRec, _ := get(t, s.mux, "/api/items", enc)
		rec, _ := get(t, s.handler, "/api/items", enc)
		if !bytes.Equal(rec.Body.Bytes(), bareRec.Body.Bytes()) {
			t.Errorf("JSON in %q = %q, want the app's bytes %q", enc, rec.Body.Bytes(), bareRec.Body.Bytes())
		}
		_, bare := get(t, s.mux, "/hash-only", enc)
		if _, got := get(t, s.handler, "/hash-only", enc); !bytes.Equal(got, bare) {
			t.Errorf("hash-only page in %q = %q, want it untouched", enc, got)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "Content-Security-Policy would block") {
		t.Errorf("logs = %q, want a warning about the hash-only page", logs.String())
	}
	if n := s.mw.Stats().Refused.CSP; n != uint64(len(codings)) {
		t.Errorf("Stats().Refused.CSP = %d, want %d", n, len(codings))
	}
}

// watchJS records the CSP violations of every document.
const watchJS = `window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});`

// pageState is what the browser test reads of a page.
type pageState struct {
	App        string   `json:"app"`   // "ran" if the page's own script ran
	State      string   `json:"state"` // the widget panel's data-state, "" without one
	Name       string   `json:"name"`
	Violations []string `json:"violations"`
}

const stateJS = `(function () {
  var p = document.querySelector("#cw-panel");
  var n = p && p.querySelector("#cw-name");
  return {app: document.documentElement.dataset.app || "", state: p ? p.getAttribute("data-state") : "",
    name: n ? n.textContent : "", violations: window.__violations || ["the watch script did not run"]};
})()`

// findBrowser returns the Chromium to drive, or "".
func findBrowser() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needBrowser returns the Chromium to drive, or skips the test (name) when
// there is none, failing it in CI.
func needBrowser(t *testing.T, name string) string {
	t.Helper()
	exe := findBrowser()
	if exe == "" {
		msg := "NO BROWSER: " + name + " did not run. Install Chromium (Debian: apt-get install chromium) or set CHROME_PATH."
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return exe
}

// startBrowser starts headless Chromium for the test and returns its tab,
// in which each document records its CSP violations (watchJS) and the
// outcome of its fetch() calls (fetchesJS).
func startBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	for _, js := range []string{watchJS, fetchesJS} {
		if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
			t.Fatal(err)
		}
	}
	return tab
}

// fetchesJS records how each fetch() of the document ended: the status,
// or "failed", and the URL.
const fetchesJS = `window.__fetches = [];
(function () {
  var f = window.fetch;
  window.fetch = function (u) {
    var p = f.apply(this, arguments), s = String(u);
    p.then(function (r) { window.__fetches.push(r.status + " " + s); }, function () { window.__fetches.push("failed " + s); });
    return p;
  };
})();`

// TestBrowser loads the app's pages in headless Chromium, logged in as
// Alice: in every coding, with the policy in the <meta> (default-src
// 'none', a template-made nonce, 'strict-dynamic', trusted types) and in a
// header, the page's script and the widget run, the widget greets Alice, and
// the page reports no CSP violation; the hash-only page runs its own
// script, has no widget and no violation; the control page, with the
// widget but without the nonce, reports violations (so the check can fail).
func TestBrowser(t *testing.T) {
	exe := needBrowser(t, "TestBrowser")
	srv, _, _ := testSite(t)
	tab := startBrowser(t, exe)
	load := func(path string) (*network.Response, pageState) {
		t.Helper()
		res, err := chromedp.RunResponse(tab, chromedp.Navigate(srv.URL+path))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		wctx, wcancel := context.WithTimeout(tab, 20*time.Second)
		defer wcancel()
		if strings.HasPrefix(path, "/hash-only") {
			// Nothing to wait for: the page's own script ran or did not.
			chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS(`h1`)))
		} else if err := chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS(`#cw-panel:not([data-state="loading"])`))); err != nil && path != "/control" {
			t.Fatalf("GET %s: the widget did not settle: %v", path, err)
		}
		st, err := chromedp.Run(tab, chromedp.Evaluate[pageState](stateJS))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return res, st
	}
	load("/login?user=alice")
	for _, path := range []string{"/", "/header"} {
		for _, enc := range codings {
			res, st := load(path + "?enc=" + enc)
			if got, _ := res.Headers["Content-Encoding"].(string); got != header(enc) {
				t.Errorf("GET %s?enc=%s: Content-Encoding %v", path, enc, got)
			}
			if st.App != "ran" || st.State != "verified" || st.Name != "Chatting as Alice Example" || len(st.Violations) != 0 {
				t.Errorf("GET %s?enc=%s: %+v; want the page's script run, the widget verified for Alice, no violation", path, enc, st)
			}
		}
	}
	for _, enc := range codings {
		if _, st := load("/hash-only?enc=" + enc); st.App != "ran" || st.State != "" || len(st.Violations) != 0 {
			t.Errorf("hash-only page in %q: %+v; want its script run, no widget, no violation", enc, st)
		}
	}
	if _, st := load("/control"); len(st.Violations) == 0 || st.State == "verified" {
		t.Errorf("control page: %+v; want CSP violations and no verified widget: the check must be able to fail", st)
	}
}

// refreshState is what TestBrowserRefreshCSP reads of a page.
type refreshState struct {
	Hook       string   `json:"hook"`  // typeof the refresh script's expired hook
	State      string   `json:"state"` // the widget panel's data-state
	Fetches    []string `json:"fetches"`
	Violations []string `json:"violations"`
}

const refreshStateJS = `(function () {
  var p = document.querySelector("#cw-panel");
  return {hook: typeof window.chatWidgetTokenExpired, state: p ? p.getAttribute("data-state") : "",
    fetches: window.__fetches || [], violations: window.__violations || ["the watch script did not run"]};
})()`

// TestBrowserRefreshCSP checks in headless Chromium that what the
// middleware expects of a page's CSP for the refresh script is what
// Chromium enforces. On the home page (connect-src 'self') the script is
// there, and the fetch of the token endpoint that its expired hook starts
// succeeds with no violation. On the narrow page (connect-src the
// vendor's path alone) the middleware left the script out, with a
// warning, and the widget still greets Alice with no violation. On the
// control, the home page with that narrow connect-src in a header the
// middleware never saw, the script is there and Chromium blocks its fetch.
func TestBrowserRefreshCSP(t *testing.T) {
	exe := needBrowser(t, "TestBrowserRefreshCSP")
	srv, _, logs := testSite(t)
	tab := startBrowser(t, exe)
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/login?user=alice")); err != nil {
		t.Fatal(err)
	}
	token := srv.URL + "/chatwidget/token"
	tests := []struct {
		name, path string
		hook       string // "function": the refresh script is there
		fetch      string // how the hook's fetch of the token endpoint ends; "": none
		violation  string // a violation the page reports; "": none
	}{
		{"connect-src 'self'", "/", "function", "200 " + token, ""},
		{"connect-src the vendor's path", "/narrow", "undefined", "", ""},
		{"control: a policy the middleware did not see", "/late-policy", "function", "failed " + token, "connect-src blocked " + token},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+tc.path)); err != nil {
				t.Fatalf("GET %s: %v", tc.path, err)
			}
			wctx, cancel := context.WithTimeout(tab, 20*time.Second)
			defer cancel()
			if err := chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS(`#cw-panel[data-state="verified"]`))); err != nil {
				t.Fatalf("GET %s: the widget did not verify Alice: %v", tc.path, err)
			}
			if tc.hook == "function" {
				if _, err := chromedp.Run(wctx, chromedp.Evaluate[bool](`window.chatWidgetTokenExpired(), true`)); err != nil {
					t.Fatal(err)
				}
				if _, err := chromedp.Run(wctx, chromedp.Poll[bool](`window.__fetches.some(function (f) { return f.indexOf("/chatwidget/token") >= 0; })`, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
					t.Fatalf("GET %s: the refresh script's fetch did not end: %v", tc.path, err)
				}
			}
			st, err := chromedp.Run(tab, chromedp.Evaluate[refreshState](refreshStateJS))
			if err != nil {
				t.Fatal(err)
			}
			var fetch string
			for _, f := range st.Fetches {
				if strings.Contains(f, "/chatwidget/token") {
					fetch = f
				}
			}
			if st.Hook != tc.hook || fetch != tc.fetch || st.State != "verified" {
				t.Errorf("GET %s: hook %s, token fetch %q, widget %q; want %s, %q, verified", tc.path, st.Hook, fetch, st.State, tc.hook, tc.fetch)
			}
			if want := []string{tc.violation}; tc.violation == "" && len(st.Violations) != 0 || tc.violation != "" && !slices.Equal(st.Violations, want) {
				t.Errorf("GET %s: violations %q, want %q", tc.path, st.Violations, tc.violation)
			}
		})
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "blocks the refresh script's fetch()") || strings.Count(logs.String(), "refresh script") != 1 {
		t.Errorf("logs = %q, want one warning, for the narrow page", logs.String())
	}
}

// TestBrowserTrailingBytes loads, in headless Chromium, pages whose coded
// stream something follows (a second member, stream or frame, garbage, a
// raw deflate stream's Adler-32 or bytes in its place), straight from the
// handler and through the middleware: Chromium shows the same of both
// (the same elements, or the same decoding error), and the middleware's
// has the widget. The expected columns are what Chromium does, which the
// middleware's TestTrailingBytes follows.
func TestBrowserTrailingBytes(t *testing.T) {
	exe := needBrowser(t, "TestBrowserTrailingBytes")
	_, s, _ := testSite(t)
	const (
		doc    = `<!DOCTYPE html><html><head><title>t</title></head><body><p id="a">first</p></body></html>`
		second = `<p id="b">second</p>`
		junk   = `garbage<p id="g">junk</p>`
	)
	type coder interface {
		io.Writer
		Close() error
	}
	compress := func(enc, text string) []byte {
		var b bytes.Buffer
		var z coder
		switch enc {
		case "gzip":
			z = gzip.NewWriter(&b)
		case "deflate":
			z = zlib.NewWriter(&b)
		case "raw deflate":
			z, _ = flate.NewWriter(&b, flate.DefaultCompression)
		case "br":
			z = brotli.NewWriter(&b)
		case "zstd":
			z, _ = zstd.NewWriter(&b)
		}
		io.WriteString(z, text)
		z.Close()
		return b.Bytes()
	}
	sum := make([]byte, 4)
	binary.BigEndian.PutUint32(sum, adler32.Checksum([]byte(doc)))
	tests := []struct {
		enc, name, tail string
		ids             string // the ids of the page's <p> elements in Chromium; "": a decoding error
	}{
		{"gzip", "a second member", string(compress("gzip", second)), "a"},
		{"gzip", "garbage", junk, "a"},
		{"deflate", "a second stream", string(compress("deflate", second)), "a"},
		{"deflate", "garbage", junk, "a"},
		{"raw deflate", "three bytes", "abc", "a"},
		{"raw deflate", "its Adler-32, then garbage", string(sum) + junk, "a"},
		{"raw deflate", "garbage", junk, ""},
		{"br", "a second stream", string(compress("br", second)), "a"},
		{"br", "garbage", junk, "a"},
		{"zstd", "a second frame", string(compress("zstd", second)), "a,b"},
		{"zstd", "garbage", junk, ""},
	}
	mux := http.NewServeMux()
	for i, tc := range tests {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Encoding", strings.TrimPrefix(tc.enc, "raw "))
			w.Write(append(compress(tc.enc, doc), tc.tail...))
		})
		mux.Handle(fmt.Sprintf("GET /bare/%d", i), h)
		mux.Handle(fmt.Sprintf("GET /mw/%d", i), s.mw.Handler(h))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tab := startBrowser(t, exe)
	type shown struct {
		IDs    string `json:"ids"`
		Widget bool   `json:"widget"`
	}
	show := func(path string) (shown, error) {
		if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+path)); err != nil {
			return shown{}, err
		}
		return chromedp.Run(tab, chromedp.Evaluate[shown](`({ids: Array.from(document.querySelectorAll("p[id]"), function (p) { return p.id; }).join(),
  widget: document.querySelector("script[data-chatwidget]") !== null})`))
	}
	for i, tc := range tests {
		t.Run(tc.enc+"/"+tc.name, func(t *testing.T) {
			bare, berr := show(fmt.Sprintf("/bare/%d", i))
			got, err := show(fmt.Sprintf("/mw/%d", i))
			if tc.ids == "" {
				if berr == nil || err == nil {
					t.Errorf("straight: %+v, %v; through the middleware: %+v, %v; want a decoding error from both", bare, berr, got, err)
				}
				return
			}
			if berr != nil || err != nil || bare.IDs != tc.ids || got.IDs != tc.ids || !got.Widget {
				t.Errorf("straight: %+v, %v; through the middleware: %+v, %v; want <p> %q in both, and the widget through the middleware", bare, berr, got, err, tc.ids)
			}
		})
	}
}
