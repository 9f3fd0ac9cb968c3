package faults

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatwidget/chatwidget"
)

// testKey is the one RSA key every site in the package signs with.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// Pages and sizes the site serves.
const (
	// pageHTML is the normal page: its body has no script, so the one
	// data-chatwidget script in a response is the widget.
	pageHTML = "<!doctype html>\n<html><head><title>Faults</title></head>\n" +
		"<body>\n<h1>Still served</h1>\n<p>The site's pages survive every fault.</p>\n</body>\n</html>\n"

	// staticHead starts static.html: its </body> falls inside the first 100
	// bytes, so a widget inserted into a 206 for bytes=0-99 would show.
	staticHead = "<!doctype html><html><head><title>S</title></head><body><p>static</p></body></html>\n"

	bigSize    = 4 << 20   // the page read slowly
	bigChunk   = 4 << 10   // the size of its writes
	streamCap  = 256 << 20 // the most an endless stream writes before giving up
	cutAfter   = 256 << 10 // how much of the stream a disconnecting client reads
	anonMarker = "window.chatWidgetAnonymous=true"
)

// User is who the resolver returns for X-Resolver: user.
var user = chatwidget.Visitor{
	Name:    "Ada",
	Email:   "ada@example.com",
	Subject: "u1",
	Fields:  map[string]any{"Plan": "pro"},
}

// Headers a fault sets on its requests.
const (
	hdrProbe    = "X-Probe"    // the request's probe ID
	hdrResolver = "X-Resolver" // what the resolver does; see site.resolve
)

// site is a small web site behind the middleware, on a loopback
// httptest.Server, whose handlers and resolver misbehave on request.
type site struct {
	srv    *httptest.Server
	mw     *chatwidget.Middleware
	logs   *logBuffer     // the middleware's slog records, as JSON lines
	errLog *writeRecorder // what net/http logs to the server's ErrorLog
	static []byte         // static/static.html
	embed  []byte         // the widget's embed element, the same for every visitor
	big    []byte         // the 4 MiB page

	release     chan struct{} // closed to release blocked resolvers; see shutdown
	releaseOnce sync.Once

	mu     sync.Mutex
	probes map[string]*probe
	nextID atomic.Uint64
}

// A probe follows one request through the site, so that the client side of
// a fault can wait for the server side without sleeping.
type probe struct {
	id        string
	resolving chan struct{} // closed when the resolver is entered
	done      chan struct{} // closed when the middleware's ServeHTTP has returned, also by a panic
	enterOnce sync.Once
	doneOnce  sync.Once
	resolves  atomic.Int32 // resolver calls
	err       error        // what the handler saw go wrong; read after done
}

func (p *probe) enterResolver() {
	p.resolves.Add(1)
	p.enterOnce.Do(func() { close(p.resolving) })
}

// newSite starts a site whose every page goes through the middleware,
// except under /bare/, which WithSkip sends around it (the oracle: what
// net/http alone does).
func newSite(t testing.TB) *site {
	t.Helper()
	s := &site{logs: &logBuffer{}, errLog: &writeRecorder{}, release: make(chan struct{}), probes: map[string]*probe{}}
	s.big = bigPage()
	s.static = staticHeadPadded()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "static.html"), s.static, 0o600); err != nil {
		t.Fatal(err)
	}
	mw, err := chatwidget.New("faults", chatwidget.KeyRSA(testKey()), chatwidget.ResolverFunc(s.resolve),
		chatwidget.WithLogger(slog.New(slog.NewJSONHandler(s.logs, nil))),
		chatwidget.WithLogInterval(0), // every record: the suite counts them
		chatwidget.WithAnonymousTemplate(`<script>`+anonMarker+`;</script>`),
		chatwidget.WithSkip(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/bare/") }))
	if err != nil {
		t.Fatal(err)
	}
	s.mw = mw
	anon, err := mw.SnippetFor(nil)
	if err != nil {
		t.Fatal(err)
	}
	end := strings.Index(string(anon), "</script>")
	if end < 0 {
		t.Fatalf("SnippetFor(nil) = %q, want a script element", anon)
	}
	s.embed = []byte(anon[:end+len("</script>")])

	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", s.page)
	mux.HandleFunc("GET /stream", s.stream)
	mux.HandleFunc("GET /big", s.bigPage)
	mux.HandleFunc("GET /panic", s.panicking)
	mux.HandleFunc("GET /hijack", s.hijack)
	mux.HandleFunc("GET /silent", s.silent)
	mux.HandleFunc("GET /flushloop", s.flushLoop)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.Dir(dir))))
	mux.Handle("/bare/", http.StripPrefix("/bare", mux))

	s.srv = httptest.NewUnstartedServer(s.track(mw.Handler(mux)))
	s.srv.Config.ErrorLog = log.New(s.errLog, "", 0)
	s.srv.Start()
	return s
}

// close stops the server, after every request on it has ended.
func (s *site) close() {
	s.srv.Close()
}

// newProbe returns a probe for one request, to send in X-Probe.
func (s *site) newProbe() *probe {
	p := &probe{
		id:        strconv.FormatUint(s.nextID.Add(1), 10),
		resolving: make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.mu.Lock()
	s.probes[p.id] = p
	s.mu.Unlock()
	return p
}

// probe returns the probe of r, or a fresh one that nobody waits for.
func (s *site) probe(r *http.Request) *probe {
	s.mu.Lock()
	p := s.probes[r.Header.Get(hdrProbe)]
	s.mu.Unlock()
	if p == nil {
		p = &probe{resolving: make(chan struct{}), done: make(chan struct{})}
	}
	return p
}

// track closes the request's probe's done when h returns or panics.
func (s *site) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.probe(r)
		defer p.doneOnce.Do(func() { close(p.done) })
		h.ServeHTTP(w, r)
	})
}

// resolve is the site's resolver; X-Resolver says how it behaves:
// "" anonymous, "user" the user, "block" until the request's context is
// cancelled (or the site releases it: anonymous), "error", "panic", "abort" (panic(http.ErrAbortHandler)),
// "big" one custom field of 1 MiB, "many" 1 MiB in 16,384 fields of 64 bytes.
func (s *site) resolve(r *http.Request) (*chatwidget.Visitor, error) {
	p := s.probe(r)
	p.enterResolver()
	switch mode := r.Header.Get(hdrResolver); mode {
	case "":
		return nil, nil
	case "user":
		v := user
		return &v, nil
	case "block":
		select {
		case <-r.Context().Done():
			return nil, fmt.Errorf("session store: %w", r.Context().Err())
		case <-s.release:
			return nil, nil
		}
	case "error":
		return nil, errors.New("session store: connection refused")
	case "panic":
		panic("session store exploded")
	case "abort":
		panic(http.ErrAbortHandler)
	case "big":
		v := user
		v.Fields = map[string]any{"Notes": strings.Repeat("x", 1<<20)}
		return &v, nil
	case "many":
		v := user
		v.Fields = make(map[string]any, 1<<14)
		for i := range 1 << 14 {
			v.Fields[fmt.Sprintf("field %05d", i)] = strings.Repeat("y", 53)
		}
		return &v, nil
	default:
		return nil, fmt.Errorf("unknown %s %q", hdrResolver, mode)
	}
}

// page serves pageHTML, whatever Range says.
func (s *site) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := io.WriteString(w, pageHTML); err != nil {
		s.probe(r).err = err
	}
}

// bigPage serves the 4 MiB page in 4 KiB writes, with no Content-Type: the
// middleware sniffs it as net/http would.
func (s *site) bigPage(w http.ResponseWriter, r *http.Request) {
	for b := s.big; len(b) > 0; b = b[min(bigChunk, len(b)):] {
		if _, err := w.Write(b[:min(bigChunk, len(b))]); err != nil {
			s.probe(r).err = err
			return
		}
	}
}

// stream streams an endless page, flushing each chunk, until a write fails
// or the request's context is done; it records which.
func (s *site) stream(w http.ResponseWriter, r *http.Request) {
	p := s.probe(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rc := http.NewResponseController(w)
	chunk := bytes.Repeat([]byte("<p>a line of an endless page</p>\n"), 1000)
	if _, p.err = io.WriteString(w, "<!doctype html>\n<html><body>\n"); p.err != nil {
		return
	}
	for n := 0; n < streamCap; n += len(chunk) {
		if p.err = r.Context().Err(); p.err != nil {
			return
		}
		if _, p.err = w.Write(chunk); p.err != nil {
			return
		}
		if p.err = rc.Flush(); p.err != nil {
			return
		}
	}
	p.err = nil // the client read it all: the fault did not happen
}

// panicking writes ?before bytes of a page (flushing them when ?flush is
// set), then panics with http.ErrAbortHandler (?value=abort) or a string.
func (s *site) panicking(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	n, _ := strconv.Atoi(q.Get("before"))
	if n > 0 {
		if _, err := w.Write(pagePrefix(n)); err != nil {
			s.probe(r).err = err
		}
	}
	if q.Has("flush") {
		if err := http.NewResponseController(w).Flush(); err != nil {
			s.probe(r).err = err
		}
	}
	if q.Get("value") == "abort" {
		panic(http.ErrAbortHandler)
	}
	panic("handler exploded: " + q.Get("value"))
}

// hijackReply is what the hijack handler writes to the hijacked connection.
const hijackReply = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 40\r\nConnection: close\r\n\r\n" +
	"<html><body>hijacked</body></html>\n\n\n\n\n\n"

// hijack takes the connection over (?via=controller: with
// http.ResponseController, else by type assertion), then tries to write to
// w the way ?after says, records what that returned, writes hijackReply to
// the connection and closes it. ?type sets a Content-Type first, ?status
// calls WriteHeader before the hijack (with Upgrade headers for 101, as
// github.com/coder/websocket does).
func (s *site) hijack(w http.ResponseWriter, r *http.Request) {
	p := s.probe(r)
	q := r.URL.Query()
	if ct := q.Get("type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if code, _ := strconv.Atoi(q.Get("status")); code != 0 {
		if code == http.StatusSwitchingProtocols {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "faults")
		}
		w.WriteHeader(code)
	}
	var hijack func() (io.ReadWriteCloser, error)
	if q.Get("via") == "controller" {
		hijack = func() (io.ReadWriteCloser, error) {
			c, _, err := http.NewResponseController(w).Hijack()
			return c, err
		}
	} else {
		hj, ok := w.(http.Hijacker)
		if !ok {
			p.err = errors.New("the ResponseWriter is not an http.Hijacker")
			return
		}
		hijack = func() (io.ReadWriteCloser, error) {
			c, _, err := hj.Hijack()
			return c, err
		}
	}
	conn, err := hijack()
	if err != nil {
		p.err = err
		return
	}
	defer conn.Close()
	switch q.Get("after") {
	case "write":
		_, p.err = io.WriteString(w, "<!doctype html><body>after hijack</body>")
	case "readfrom":
		_, p.err = io.Copy(w, strings.NewReader("<!doctype html><body>after hijack</body>"))
	case "flush":
		p.err = http.NewResponseController(w).Flush()
	}
	if _, err := io.WriteString(conn, hijackReply); err != nil && p.err == nil {
		p.err = err
	}
}

// silent sets an HTML Content-Type (unless ?type=none), then does only what
// ?do says: nothing, WriteHeader(?code), an empty Write or a Flush.
func (s *site) silent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("type") != "none" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	switch q.Get("do") {
	case "header":
		code, _ := strconv.Atoi(q.Get("code"))
		w.WriteHeader(code)
	case "empty":
		if _, err := w.Write(nil); err != nil {
			s.probe(r).err = err
		}
	case "flush":
		if err := http.NewResponseController(w).Flush(); err != nil {
			s.probe(r).err = err
		}
	}
}

// flushLoop writes a page in small pieces, flushing each, until a write or
// a flush fails, and records which failed first ("write: …" or "flush: …").
// It ignores the request's context on purpose: only the errors tell it the
// client has gone.
func (s *site) flushLoop(w http.ResponseWriter, r *http.Request) {
	p := s.probe(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rc := http.NewResponseController(w)
	if _, err := io.WriteString(w, "<!doctype html>\n<html><body>\n"); err != nil {
		p.err = fmt.Errorf("write: %w", err)
		return
	}
	for range 1 << 20 {
		if _, err := io.WriteString(w, "<p>event</p>\n"); err != nil {
			p.err = fmt.Errorf("write: %w", err)
			return
		}
		if err := rc.Flush(); err != nil {
			p.err = fmt.Errorf("flush: %w", err)
			return
		}
	}
}

// bigPage returns a page of exactly bigSize bytes, made once.
var bigPage = sync.OnceValue(func() []byte {
	head := "<!doctype html>\n<html><head><title>Big</title></head>\n<body>\n"
	tail := "</body>\n</html>\n"
	b := make([]byte, 0, bigSize)
	b = append(b, head...)
	for i := 0; len(b) < bigSize-len(tail)-64; i++ {
		b = fmt.Appendf(b, "<p>line %d of a page read slowly</p>\n", i)
	}
	b = append(b, "<p>"...)
	b = append(b, bytes.Repeat([]byte{'z'}, bigSize-len(tail)-len(b)-len("</p>\n"))...)
	b = append(b, "</p>\n"...)
	return append(b, tail...)
})

// pagePrefix returns the beginning of a page, in whole lines of at least n
// bytes in all (none for 0).
func pagePrefix(n int) []byte {
	if n == 0 {
		return nil
	}
	b := []byte("<!doctype html>\n<html><body>\n")
	for len(b) < n {
		b = append(b, "<p>written before the panic</p>\n"...)
	}
	return b
}

// logBuffer is an io.Writer, safe for concurrent use, that keeps the JSON
// lines of a slog.JSONHandler.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the records logged so far.
func (l *logBuffer) records() ([]map[string]any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var recs []map[string]any
	d := json.NewDecoder(bytes.NewReader(l.b.Bytes()))
	for d.More() {
		var rec map[string]any
		if err := d.Decode(&rec); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// writeRecorder keeps each Write as one message: log.Logger writes each
// message, stack traces included, in one Write.
type writeRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, string(p))
	return len(p), nil
}

func (w *writeRecorder) messages() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}
