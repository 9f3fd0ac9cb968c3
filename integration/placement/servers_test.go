package placement

import (
	"bytes"
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
	"unicode/utf16"

	"github.com/chatwidget/chatwidget"
)

// keyFile is the library's fixed test key.
const keyFile = "../../testdata/private.pem"

// widgetID is the widget the site's snippet is for.
const widgetID = "placement-test"

// visitor is who the site says is logged in.
var visitor = &chatwidget.Visitor{
	Name:    "Alice Placement",
	Email:   "alice@example.com",
	Subject: "u-1001",
	Fields:  map[string]any{"Plan": "gold"},
}

// embedJS is the embed script the site serves: it marks the document, so
// that a page can tell that the embed code loaded and ran.
const embedJS = `document.documentElement.dataset.cwEmbed = "1";`

// customerDataPrefix is what the customer-data template has right before
// JWT_TOKEN; tokenIn finds the token after it.
const customerDataPrefix = `window.chatWidgetCustomerData=function(done){done("`

// customerDataTemplate records, when it runs, that it ran. It keeps the token
// in a JavaScript string only, so that the token reaches the DOM nowhere else.
const customerDataTemplate = `<script>` + customerDataPrefix + `JWT_TOKEN")};document.documentElement.dataset.cwRan="1";</script>`

// A request is one request the attacker's server received.
type request struct {
	Method string
	URI    string
	Header http.Header
	Body   []byte
}

// String returns the request line, shortened for a report.
func (r request) String() string {
	return fmt.Sprintf("%s %s", r.Method, shorten(r.URI, 300))
}

// attacker is the server a hostile page sends what it can get to: it records
// every request it receives.
type attacker struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
}

// newAttacker starts the attacker's server; it stops when the test ends.
func newAttacker(t *testing.T) *attacker {
	a := &attacker{}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// serve records r and answers with a small page, whatever was asked.
func (a *attacker) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	a.mu.Lock()
	a.reqs = append(a.reqs, request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!DOCTYPE html><title>attacker</title><p>Thanks.")
}

// prefix returns the path under which a page's ATTACKER URLs point.
func prefix(mode, page string) string { return "/t/" + mode + "/" + page + "/" }

// url returns what replaces ATTACKER in a page: the attacker's URL and a
// path that tells which page and mode a request came from.
func (a *attacker) url(mode, page string) string {
	return a.srv.URL + strings.TrimSuffix(prefix(mode, page), "/")
}

// all returns every request so far.
func (a *attacker) all() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// of returns the requests so far whose path is under p (or is p without
// its slash, followed by a query).
func (a *attacker) of(p string) []request {
	var out []request
	for _, r := range a.all() {
		if rest, ok := strings.CutPrefix(r.URI, strings.TrimSuffix(p, "/")); ok && (rest == "" || strings.ContainsRune("/?#", rune(rest[0]))) {
			out = append(out, r)
		}
	}
	return out
}

// A site serves the corpus through the middleware and keeps every page's
// body as the middleware sent it.
type site struct {
	mw     *chatwidget.Middleware
	srv    *httptest.Server
	pages  map[string]*page // by name
	atk    *attacker
	logs   syncBuffer // the middleware's log
	mu     sync.Mutex
	served map[string][]byte // by mode/page, what the browser got
}

// newSite starts the site with the fixed key, a resolver that says visitor
// is logged in, and templates that load the embed script from the site by
// its absolute URL. It stops when the test ends.
func newSite(t *testing.T, atk *attacker, pages []*page) *site {
	t.Helper()
	s := &site{pages: map[string]*page{}, atk: atk, served: map[string][]byte{}}
	for _, p := range pages {
		s.pages[p.name] = p
	}
	s.srv = httptest.NewUnstartedServer(nil) // its listener, so its URL, is there already
	base := "http://" + s.srv.Listener.Addr().String()
	resolver := chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return visitor, nil })
	mw, err := chatwidget.New(widgetID, chatwidget.KeyFile(keyFile), resolver,
		chatwidget.WithEmbedTemplate(`<script src="`+base+`/embed.js"></script>`),
		chatwidget.WithCustomerDataTemplate(customerDataTemplate),
		chatwidget.WithTTL(time.Hour), // one token for the whole run
		chatwidget.WithLogger(slog.New(slog.NewTextHandler(&s.logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s.mw = mw
	mux := http.NewServeMux()
	mux.HandleFunc("GET /embed.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, embedJS)
	})
	mux.HandleFunc("GET /probe", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, probePage)
	})
	mux.HandleFunc("GET /page/{mode}/{name}", s.servePage)
	s.srv.Config.Handler = s.record(mw.Handler(mux))
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// probePage tells which scripting mode a browser is in.
const probePage = `<!DOCTYPE html><title>probe</title><noscript><p id=probe>scripting is off</p></noscript>` +
	`<script>document.documentElement.dataset.probe = "1"</script>`

// pageURL returns the URL of a page in a mode.
func (s *site) pageURL(mode, name string) string { return s.srv.URL + "/page/" + mode + "/" + name }

// servePage writes a page of the corpus with ATTACKER replaced, in its
// encoding, under its Content-Type header lines.
func (s *site) servePage(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pages[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body := bytes.ReplaceAll(p.body, []byte("ATTACKER"), []byte(s.atk.url(r.PathValue("mode"), p.name)))
	switch p.encode {
	case encUTF16LEBOM:
		body = utf16LEWithBOM(body)
	case encUTF8BOM:
		body = append([]byte("\ufeff"), body...)
	}
	if len(p.contentType) == 1 && p.contentType[0] == "none" {
		// net/http (and the middleware) sniff the type.
	} else {
		w.Header()["Content-Type"] = p.contentType
	}
	w.Write(body)
}

// The encodings a page may ask for with @encode; its file is UTF-8.
const (
	encUTF16LEBOM = "utf-16le-bom" // UTF-16LE after a byte order mark
	encUTF8BOM    = "utf-8-bom"    // UTF-8 after a byte order mark
)

// utf16LEWithBOM returns the UTF-8 text b as UTF-16LE after a byte order mark.
func utf16LEWithBOM(b []byte) []byte {
	out := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(string(b))) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// record wraps h so that the body of each page under /page/ is kept.
func (s *site) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.URL.Path, "/page/")
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		tw := &tee{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		s.mu.Lock()
		s.served[key] = tw.buf.Bytes()
		s.mu.Unlock()
	})
}

// body returns what the site sent for a page in a mode.
func (s *site) body(mode, name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.served[mode+"/"+name]
	return b, ok
}

// tee is the site's outermost ResponseWriter: it keeps a copy of the body
// and flushes, as the server's own writer does. It has no Unwrap, so that
// nothing the middleware writes can go around it.
type tee struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *tee) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *tee) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shorten returns s cut to about n bytes.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}
