package placement

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pageTimeout bounds one page: its load, the settling of its requests, the
// reading of its DOM and the click, if any.
const pageTimeout = 5 * time.Second

// settleTimeout bounds the wait, after the load event, for the requests
// still in flight (a page's subresources mostly finish before it fires).
const settleTimeout = 2 * time.Second

// findBrowser returns the Chromium or Chrome to drive: $CHROME_PATH, else the
// first of the usual names on $PATH, else /usr/bin/chromium (Debian's
// package); "" when there is none. It is examples/demo/site's.
func findBrowser() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// requireBrowser returns the browser to drive, or skips the test, loudly,
// when there is none; when CI is set, it fails it instead.
func requireBrowser(t *testing.T, what string) string {
	t.Helper()
	exe := findBrowser()
	if exe == "" {
		msg := "NO BROWSER: " + what + " did not run. " +
			"Install Chromium (Debian: apt-get install chromium) or set CHROME_PATH."
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " CI is set, so this fails.")
		}
		t.Skip("\n\n\t*** " + msg + " ***\n\n")
	}
	return exe
}

// A mode is how the browser runs pages: with scripting or without.
type mode struct {
	name      string
	scripting bool
}

var modes = []mode{{"scripting-on", true}, {"scripting-off", false}}

// A browser is one headless Chromium with one tab, which every page of a
// mode is loaded in, in turn.
type browser struct {
	mode mode
	tab  context.Context
	errs syncBuffer // chromedp's errors

	mu       sync.Mutex
	inflight map[network.RequestID]bool
	idle     chan struct{} // closed when inflight becomes empty
}

// newBrowser starts exe, headless, with a fresh profile, scripting as m
// says, within ctx. It closes when the test ends.
func newBrowser(t *testing.T, ctx context.Context, exe string, m mode) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), // a fresh profile, removed after the browser closes
		chromedp.WindowSize(1024, 768),
	)
	if !m.scripting {
		opts = append(opts, chromedp.Flag("blink-settings", "scriptEnabled=false"))
	}
	b := &browser{mode: m, inflight: map[network.RequestID]bool{}}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(format string, args ...any) { fmt.Fprintf(&b.errs, format+"\n", args...) }))
	b.tab = tab
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if e := b.errs.String(); e != "" && t.Failed() {
			t.Logf("chromedp errors (%s):\n%s", m.name, e)
		}
	})
	if err := chromedp.Listen(tab, b.track); err != nil {
		t.Fatalf("start %s (%s): %v", exe, m.name, err)
	}
	return b
}

// track keeps the set of the tab's requests in flight. It runs on
// chromedp's goroutine.
func (b *browser) track(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		// Chromium reports the start of its favicon requests, never
		// their end.
		if !strings.HasSuffix(ev.Request.URL, "/favicon.ico") {
			b.inflight[ev.RequestID] = true
		}
		return
	case *network.EventLoadingFinished:
		delete(b.inflight, ev.RequestID)
	case *network.EventLoadingFailed:
		delete(b.inflight, ev.RequestID)
	default:
		return
	}
	if len(b.inflight) == 0 && b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
}

// forget forgets the requests in flight: those of the previous page, such as
// the navigation a click started, whose end Chromium does not report once
// another navigation replaced it.
func (b *browser) forget() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.inflight)
	if b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
}

// settled returns a channel closed once no request of the tab is in flight.
func (b *browser) settled() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if len(b.inflight) == 0 {
		close(ch)
		return ch
	}
	if b.idle == nil {
		b.idle = make(chan struct{})
	}
	return b.idle
}

// probe loads the site's probe page and checks that the browser's scripting
// is as its mode says.
func (b *browser) probe(t *testing.T, s *site) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, 4*pageTimeout) // the browser's start included
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.srv.URL+"/probe")); err != nil {
		t.Fatalf("load the probe page: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[2]bool](
		`[document.documentElement.dataset.probe === "1", document.getElementById("probe") !== null]`))
	if err != nil {
		t.Fatalf("read the probe page: %v", err)
	}
	if want := [2]bool{b.mode.scripting, !b.mode.scripting}; got != want {
		t.Fatalf("probe page: (script ran, noscript parsed as markup) = %v, want %v: the browser's scripting is not what mode %s says",
			got, want, b.mode.name)
	}
}

// A view is what the browser made of a page.
type view struct {
	Status       int64  `json:"-"`
	Ran          string `json:"ran"`   // cwRan, set by the customer-data script
	Embed        string `json:"embed"` // cwEmbed, set by the embed script
	ParserErrors int    `json:"parserErrors"`
	Charset      string `json:"charset"`
	OuterHTML    string `json:"outer"`
	Hits         []hit  `json:"hits"`
	Clicked      string `json:"-"` // what the click did, if the page asks for one
}

// A hit is a node of the DOM that holds the token or one of its parts.
type hit struct {
	Kind   string `json:"kind"`   // "text node", "attribute value", "comment", …
	Where  string `json:"where"`  // the ancestors, root first; an attribute as [name]
	Piece  string `json:"piece"`  // "token", or which part
	Count  int    `json:"count"`  // how many times the node holds it
	Script bool   `json:"script"` // the node is the text of an HTML <script>
	OK     bool   `json:"ok"`     // the token in the text of an HTML <script> with no forbidden ancestor
	Bad    string `json:"bad"`    // the outermost forbidden ancestor, if any
}

// load navigates the tab to url and returns what the browser made of it.
func (b *browser) load(url string, p *page, pieces [4]string, atk *attacker, mode string) (view, error) {
	ctx, cancel := context.WithTimeout(b.tab, pageTimeout) // the test's deadline too
	defer cancel()
	b.forget()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		return view{}, fmt.Errorf("load: %w", err)
	}
	// The load event waits for the page's images, frames, scripts and style
	// sheets; this waits (for the tab's network events, within
	// settleTimeout) for the requests still in flight after it, such as
	// those that do not delay the load event, so that what the attacker
	// received from the page is all there when it is checked.
	sctx, scancel := context.WithTimeout(ctx, settleTimeout)
	select {
	case <-b.settled():
	case <-sctx.Done():
	}
	scancel()
	v, err := b.read(ctx, pieces)
	if err != nil {
		return view{}, err
	}
	if res != nil {
		v.Status = res.Status
	}
	if p.click != "" {
		v.Clicked = b.click(ctx, p, atk, mode)
	}
	return v, nil
}

// read runs walkJS in the page.
func (b *browser) read(ctx context.Context, pieces [4]string) (view, error) {
	arg, _ := json.Marshal(pieces)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[view](fmt.Sprintf(walkJS, arg, !b.mode.scripting)))
	if err != nil {
		return view{}, fmt.Errorf("read the DOM: %w", err)
	}
	return v, nil
}

// click clicks the page's selector, when there is such an element, and
// waits for the page the click loads (the form's submission, with whatever
// the form holds, to the attacker). It returns what happened.
func (b *browser) click(ctx context.Context, p *page, atk *attacker, mode string) string {
	present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, p.click)))
	if err != nil {
		return fmt.Sprintf("could not look for %q: %v", p.click, err)
	}
	if !present {
		return fmt.Sprintf("no %q to click", p.click)
	}
	before := len(atk.of(prefix(mode, p.name)))
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(p.click)))
	if err != nil {
		return fmt.Sprintf("click %q: %v", p.click, err)
	}
	if len(atk.of(prefix(mode, p.name))) == before {
		return fmt.Sprintf("clicked %q; it loaded %s, and the attacker received nothing", p.click, shorten(res.URL, 100))
	}
	return fmt.Sprintf("clicked %q; the attacker received the submission", p.click)
}

// walkJS walks the whole DOM (template content and open shadow roots
// included) and reports every node that holds the token or a part of it.
// Its argument is [token, header, payload, signature].
const walkJS = `(() => {
  const pieces = %s, noscriptAllowed = %v, names = ["token", "header", "payload", "signature"];
  const HTML = "http://www.w3.org/1999/xhtml", SVG = "http://www.w3.org/2000/svg",
    MATH = "http://www.w3.org/1998/Math/MathML";
  const forbidden = new Set(["template", "svg", "math", "noscript", "textarea", "title", "style",
    "iframe", "noembed", "noframes", "xmp"]);
  if (noscriptAllowed) forbidden.delete("noscript"); // scripting off: see checks_test.go
  const hits = [];
  function count(s, p) { let n = 0, i = 0; while ((i = s.indexOf(p, i)) >= 0) { n++; i += p.length; } return n; }
  // look reports the pieces in s: the token, or else each part it holds.
  function look(s, kind, where, script, bad) {
    if (!s) return;
    const n = count(s, pieces[0]);
    if (n > 0) { hits.push({kind, where, piece: "token", count: n, script, ok: script && !bad, bad}); return; }
    for (let i = 1; i < 4; i++) {
      const m = count(s, pieces[i]);
      if (m > 0) hits.push({kind, where, piece: names[i], count: m, script, ok: false, bad});
    }
  }
  function label(e) {
    const ns = e.namespaceURI;
    const p = ns === HTML ? "" : ns === SVG ? "svg:" : ns === MATH ? "math:" : "{" + ns + "}";
    return p + e.localName;
  }
  function visit(node, chain, bad) {
    for (const c of node.childNodes) {
      const where = chain.join(" > ");
      switch (c.nodeType) {
      case Node.ELEMENT_NODE: {
        const l = label(c), inner = chain.concat(l);
        for (const a of c.attributes) {
          look(a.name, "attribute name", inner.join(" > ") + " [" + a.name + "]", false, bad);
          look(a.value, "attribute value", inner.join(" > ") + " [" + a.name + "]", false, bad);
        }
        const b = bad || (forbidden.has(c.localName) ? l : "");
        visit(c, inner, b);
        if (c.content instanceof DocumentFragment) visit(c.content, inner, b);
        if (c.shadowRoot) visit(c.shadowRoot, inner.concat("#shadow-root"), b);
        break;
      }
      case Node.TEXT_NODE: {
        const p = c.parentNode;
        const script = p.nodeType === Node.ELEMENT_NODE && p.namespaceURI === HTML && p.localName === "script";
        look(c.data, "text node", where, script, bad);
        break;
      }
      case Node.CDATA_SECTION_NODE: look(c.data, "CDATA section", where, false, bad); break;
      case Node.COMMENT_NODE: look(c.data, "comment", where, false, bad); break;
      case Node.PROCESSING_INSTRUCTION_NODE: look(c.target + " " + c.data, "processing instruction", where, false, bad); break;
      case Node.DOCUMENT_TYPE_NODE: look(c.name + " " + c.publicId + " " + c.systemId, "doctype", where, false, bad); break;
      }
    }
  }
  visit(document, [], "");
  const root = document.documentElement;
  return {
    ran: (root && root.getAttribute("data-cw-ran")) || "",
    embed: (root && root.getAttribute("data-cw-embed")) || "",
    parserErrors: document.getElementsByTagNameNS("*", "parsererror").length,
    charset: document.characterSet,
    outer: root ? root.outerHTML : "",
    hits
  };
})()`

// scripts returns where the DOM has the token as the text of an HTML
// <script>: the labels of the script and its ancestors.
func (v view) scripts() []string {
	var out []string
	for _, h := range v.Hits {
		if h.Script && h.Piece == "token" {
			out = append(out, h.Where)
		}
	}
	return out
}

// badHits describes the hits that are not where the token may be.
func (v view) badHits() []string {
	var out []string
	for _, h := range v.Hits {
		if h.OK {
			continue
		}
		s := fmt.Sprintf("the %s is in %s at %s", h.Piece, article(h.Kind), orRoot(h.Where))
		if h.Bad != "" {
			s += " (inside <" + h.Bad + ">)"
		} else if h.Kind == "text node" {
			s += " (not the text of an HTML <script>)"
		}
		out = append(out, s)
	}
	return out
}

// orRoot names the document for an empty chain.
func orRoot(where string) string {
	if where == "" {
		return "the document"
	}
	return strings.TrimSpace(where)
}

// article returns s after "a" or "an".
func article(s string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}
