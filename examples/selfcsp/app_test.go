package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
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
	outer.Handle("/", s.handler)
	return srv, s, logs
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

// TestBrowser loads the app's pages in headless Chromium, logged in as
// Alice: in every coding, with the policy in the <meta> (default-src
// 'none', a template-made nonce, 'strict-dynamic', trusted types) and in a
// header, the page's script and the widget run, the widget greets Alice, and
// the page reports no CSP violation; the hash-only page runs its own
// script, has no widget and no violation; the control page, with the
// widget but without the nonce, reports violations (so the check can fail).
func TestBrowser(t *testing.T) {
	exe := findBrowser()
	if exe == "" {
		msg := "NO BROWSER: TestBrowser did not run. Install Chromium (Debian: apt-get install chromium) or set CHROME_PATH."
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv, _, _ := testSite(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchJS}); err != nil {
		t.Fatal(err)
	}
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
