package chatwidget

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// sniffLen is how many bytes net/http looks at to sniff a content type.
const sniffLen = 512

// writerMode is what a responseWriter does with the body.
type writerMode uint8

const (
	modeUndecided writerMode = iota // nothing written yet
	modePass                        // the body passes through untouched
	modeInject                      // the body goes through the injector
)

// responseWriter decides at the first write whether the response gets the
// widget, then passes the body through or streams it through an injector.
// It implements Flush, Hijack and ReadFrom only through the wrappers made by
// wrap, which advertise exactly what the inner writer has.
type responseWriter struct {
	w        http.ResponseWriter
	r        *http.Request
	m        *Middleware
	status   int // held until the decision; 0 if WriteHeader was not called
	mode     writerMode
	disabled bool
	sniffed  []byte // the first bytes, while no Content-Type says what they are
	refused  string // why the page gets no widget, when the writer decided so
	// charsetless is set when the Content-Type of a page that gets the
	// widget names no charset: the injector settled it as UTF-8 or none.
	charsetless bool
	// sniffedType is the type sniffed from the first bytes, set as the
	// Content-Type of a rewritten page.
	sniffedType string
	inj         *injector // never nil; kept across requests by the pool
	snippet     []byte
	// gen counts the responses cw served: the handle a handler got is live
	// only while gen is the one it was made with (see handle).
	gen atomic.Uint64
}

func newResponseWriter(w http.ResponseWriter, r *http.Request, m *Middleware) *responseWriter {
	cw := writerPool.Get().(*responseWriter)
	// The injector is left as release left it: choose resets it before any
	// use, and most responses never use it. It is behind a pointer so that
	// its scanner's stack is not copied or cleared for them.
	inj, snippet := cw.inj, cw.snippet[:0]
	cw.w, cw.r, cw.m, cw.status, cw.mode, cw.disabled = w, r, m, 0, modeUndecided, false
	cw.sniffed, cw.refused, cw.charsetless, cw.sniffedType, cw.inj, cw.snippet = nil, "", false, "", inj, snippet
	return cw
}

// writerPool keeps response writers, their buffers and their interface
// wrappers between requests: passing a response through then allocates
// nothing (BenchmarkMiddleware/json-10KB).
var writerPool = sync.Pool{New: func() any { return &responseWriter{inj: new(injector)} }}

// release returns cw to the pool once the handler has returned, dropping
// what belongs to the request.
func (cw *responseWriter) release() {
	if cap(cw.inj.hold) > 2*maxHold || cap(cw.snippet) > 16<<10 {
		return // let an unusually large buffer go
	}
	cw.w, cw.r, cw.m, cw.inj.w, cw.inj.pending, cw.inj.err, cw.sniffed = nil, nil, nil, nil, nil, nil, nil
	writerPool.Put(cw)
}

// A handle is what a handler writes to: cw as it was when the handler got
// it. Once the handler has returned (finish), the handle is dead, and so
// inert as net/http's own writer is then: its writes fail and reach no
// other response, even after the pool has handed cw to the next request.
type handle struct {
	cw  *responseWriter
	gen uint64
}

// errFinished is what a write after the handler returned gets.
var errFinished = errors.New("chatwidget: write after the handler returned")

// live returns cw while the handler's response is being written, else nil.
func (h handle) live() *responseWriter {
	if h.cw.gen.Load() != h.gen {
		return nil
	}
	return h.cw
}

// Header returns the inner writer's header map; a map that goes nowhere
// once the handler has returned.
func (h handle) Header() http.Header {
	if cw := h.live(); cw != nil {
		return cw.w.Header()
	}
	return http.Header{}
}

// Write writes the body; see responseWriter.Write.
func (h handle) Write(p []byte) (int, error) {
	if cw := h.live(); cw != nil {
		return cw.Write(p)
	}
	return 0, errFinished
}

// WriteHeader sends or holds the status; see responseWriter.WriteHeader.
func (h handle) WriteHeader(code int) {
	if cw := h.live(); cw != nil {
		cw.WriteHeader(code)
	}
}

// Unwrap returns the inner writer, for [http.ResponseController]; once the
// handler has returned, a writer whose every method fails.
func (h handle) Unwrap() http.ResponseWriter {
	if cw := h.live(); cw != nil {
		return cw.w
	}
	return finishedWriter{}
}

func (h handle) writer() *responseWriter { return h.live() }

// finishedWriter is the inner writer of a dead handle.
type finishedWriter struct{}

func (finishedWriter) Header() http.Header         { return http.Header{} }
func (finishedWriter) Write([]byte) (int, error)   { return 0, errFinished }
func (finishedWriter) WriteHeader(int)             {}
func (finishedWriter) FlushError() error           { return errFinished }
func (finishedWriter) Unwrap() http.ResponseWriter { return nil }

// WriteHeader holds a final status until the first write, so that the
// headers can still change; 1xx informational responses go out at once.
func (cw *responseWriter) WriteHeader(code int) {
	switch {
	case cw.sniffed != nil || (cw.mode == modeInject && cw.inj.pending != nil):
		// Superfluous: body bytes were written, and net/http would have
		// sent the status with them; the held headers are not final yet.
	case cw.mode != modeUndecided:
		cw.w.WriteHeader(code) // superfluous: net/http logs it
	case code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols:
		cw.w.WriteHeader(code)
	case cw.status == 0:
		cw.status = code
	}
}

// Write sends p through the decided path, deciding first if need be.
func (cw *responseWriter) Write(p []byte) (int, error) {
	switch cw.mode {
	case modePass:
		return cw.w.Write(p)
	case modeInject:
		return cw.inj.Write(p)
	}
	// Once a first write went out with no type, net/http sniffs the type
	// from the first bytes and ignores a Content-Type set since: so does
	// the writer, which keeps sniffing (and so drops none of them).
	if ct, declared := cw.declaredType(); declared && cw.sniffed == nil {
		cw.chooseType(ct, "")
		return cw.Write(p)
	}
	if len(cw.sniffed)+len(p) < sniffLen {
		cw.sniffed = append(cw.sniffed, p...)
		return len(p), nil
	}
	head := p
	if len(cw.sniffed) > 0 {
		head = append(cw.sniffed, p[:sniffLen-len(cw.sniffed)]...)
	}
	buffered := len(cw.sniffed)
	cw.choose(head)
	if err := cw.writeSniffed(buffered); err != nil {
		return 0, err
	}
	return cw.Write(p)
}

// writeSniffed writes the first n sniffed bytes, held before the decision.
func (cw *responseWriter) writeSniffed(n int) error {
	b := cw.sniffed[:n]
	cw.sniffed = nil
	if len(b) == 0 {
		return nil
	}
	var err error
	if cw.mode == modeInject {
		_, err = cw.inj.Write(b)
	} else {
		_, err = cw.w.Write(b)
	}
	return err
}

// declaredType returns the Content-Type the handler set, as a browser reads
// it, and whether it declared the type: set a Content-Type (even to
// nothing) or a Transfer-Encoding, so that net/http would sniff nothing.
func (cw *responseWriter) declaredType() (ct contentType, declared bool) {
	h := cw.w.Header()
	v, declared := h["Content-Type"]
	if len(v) > 0 {
		ct = extractMIME(v)
	}
	return ct, declared || header(h, "Transfer-Encoding") != ""
}

// needsSniff reports whether the content type must be sniffed from the body,
// as net/http does when the handler set none before its first write.
func (cw *responseWriter) needsSniff() bool {
	_, declared := cw.declaredType()
	return !declared || cw.sniffed != nil
}

// choose chooses between passing the body through and the injector, given
// the first bytes of the body when the type must be sniffed (head), or nil.
func (cw *responseWriter) choose(head []byte) {
	if head != nil {
		sniffed := http.DetectContentType(head)
		cw.chooseType(extractMIME([]string{sniffed}), sniffed)
		return
	}
	ct, _ := cw.declaredType()
	cw.chooseType(ct, "")
}

// chooseType chooses between passing the body through and the injector for
// a body of type ct, declared or (then sniffed is the sniffed Content-Type)
// sniffed. For an HTML body in an encoding the snippet may go into, the
// injector calls decide once it knows whether the body is a document; the
// headers wait until then.
func (cw *responseWriter) chooseType(ct contentType, sniffed string) {
	if cw.injectable(ct) {
		if enc := labelEncoding(ct.charset); enc != encOther && !ct.mixed {
			cw.mode = modeInject
			cw.sniffedType, cw.charsetless = sniffed, enc == encUnknown
			cw.inj.resetPending(cw.w, cw, enc)
			if header(cw.r.Header, "Sec-Fetch-Dest") == "document" {
				// A navigation: the response is a document, with no need
				// to wait for a sign of one.
				cw.inj.knownDocument()
			}
			return
		}
		cw.refused = "the page's encoding is not one the snippet may go into, or its Content-Type values disagree"
	}
	cw.mode = modePass
	if cw.status != 0 {
		cw.w.WriteHeader(cw.status)
	}
}

// decide is called by the injector when it knows whether the body is a
// document. For a document it resolves the visitor, renders the snippet and
// fixes the headers; then it sends the headers. It returns the snippet, or
// nil when nothing is to be inserted.
func (cw *responseWriter) decide(document bool) []byte {
	var snippet []byte
	if document {
		var t signed
		snippet, t = cw.m.render(cw.r, cw.snippet[:0])
		if snippet != nil && cw.inj.encoding() == encASCII && !isASCII(snippet) {
			cw.refused = "the snippet is not ASCII, and the page's encoding is not UTF-8"
			snippet = nil
		}
		if snippet != nil {
			cw.snippet = snippet
			cw.fixHeaders(t)
		}
	}
	if cw.status != 0 {
		cw.w.WriteHeader(cw.status)
	}
	return snippet
}

// isASCII reports whether b holds only ASCII bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// injectable reports whether the response, of type ct, is an HTML page with
// a body that the widget may go into. An XHTML page is left alone: the
// browser's XML parser would stop at the first byte of the snippet that is
// not well-formed XML.
func (cw *responseWriter) injectable(ct contentType) bool {
	if cw.disabled {
		return false
	}
	switch s := cw.status; {
	case s == 0, s == http.StatusOK:
	case s < 200, s == http.StatusNoContent, s == http.StatusPartialContent,
		s >= 300 && s < 400:
		return false
	}
	if !ct.html() { // most responses that are not pages end here
		return false
	}
	h := cw.w.Header()
	if ce := header(h, "Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	if cd := header(h, "Content-Disposition"); cd != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(cd)), "inline") {
		return false // a download: the saved file must not keep a token
	}
	return header(h, "Content-Range") == ""
}

// header returns the first value of h's key, which must be in canonical
// form: unlike Get it does not canonicalize key on every call, which is
// most of the cost of passing a response through.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isHTML reports whether a Content-Type is an HTML document, as a browser
// reads it.
func isHTML(ct string) bool { return extractMIME([]string{ct}).html() }

// fixHeaders makes the headers true of the rewritten body: its length and
// strong validator change, ranges no longer apply, the body depends on the
// fetch metadata, and a page with token t must stay out of shared caches and
// not be reused by the browser past the token's exp.
func (cw *responseWriter) fixHeaders(t signed) {
	h := cw.w.Header()
	switch {
	case cw.sniffedType != "":
		h.Set("Content-Type", cw.sniffedType)
	case cw.charsetless:
		// As net/http does for a sniffed page; and a <meta charset> the
		// page lets through can no longer switch the encoding.
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	// A handler may set a header by a key in any case (h["etag"]), and
	// net/http sends every key: the rules apply to each.
	canonicalize(h, "Cache-Control", "Etag", "Vary")
	deleteFold(h, "Content-Length", "Accept-Ranges")
	if et := header(h, "Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Del("Etag")
	}
	// The page depends on the fetch metadata (see loadedAsDocument) and, anonymous or
	// not, on who is logged in: a cached anonymous copy must not serve a
	// visitor who has logged in since.
	addVary(h, "Sec-Fetch-Dest", "Sec-Purpose", "Purpose", "Hx-Request", "Turbo-Frame", "Cookie")
	if t.token != "" {
		makePrivate(h, t.exp-cw.m.signer.now().Unix())
	}
}

// makePrivate keeps a response that carries a token, valid for maxAge more
// seconds, out of shared caches and out of the browser's cache past its exp:
// Cache-Control gets a plain private, loses public, s-maxage and a qualified
// private="…", and keeps a max-age only up to maxAge; CDN-targeted cache
// headers (RFC 9213), which CDNs obey over Cache-Control, and the validators
// and Expires go; Vary gets Cookie.
func makePrivate(h http.Header, maxAge int64) {
	canonicalize(h, "Cache-Control", "Vary")
	kept := []string{"private"}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, val, hasVal := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "public", "s-maxage", "private", "proxy-revalidate",
				"stale-while-revalidate", "stale-if-error", "immutable":
				continue // may serve the page past the token's exp
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `" `), 10, 64); !hasVal || err != nil || n > maxAge || n < 0 {
					d = "max-age=" + strconv.FormatInt(max(maxAge, 0), 10)
				}
			}
			kept = append(kept, d)
		}
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
	const cdn = "Cdn-Cache-Control" // and its kin, such as Cloudflare-CDN-Cache-Control
	for k := range h {
		if len(k) >= len(cdn) && strings.EqualFold(k[len(k)-len(cdn):], cdn) {
			delete(h, k)
		}
	}
	// Surrogate-Control (Fastly, Akamai), Edge-Control (Akamai) and
	// X-Accel-Expires (nginx) make a shared cache keep the page too.
	deleteFold(h, "Surrogate-Control", "Edge-Control", "X-Accel-Expires", "Etag", "Last-Modified", "Expires")
	addVary(h, "Cookie")
}

// canonicalize moves the values of every key of h that is one of names in
// another case (h["cache-control"]) under the canonical key.
func canonicalize(h http.Header, names ...string) {
	for k, v := range h {
		for _, name := range names {
			if k != name && strings.EqualFold(k, name) {
				h[name] = append(h[name], v...)
				delete(h, k)
			}
		}
	}
}

// deleteFold deletes every key of h that is one of names in any case.
func deleteFold(h http.Header, names ...string) {
	for k := range h {
		for _, name := range names {
			if strings.EqualFold(k, name) {
				delete(h, k)
			}
		}
	}
}

// addVary adds fields to the Vary header, unless they, or "*", are there.
// It allocates only the new value and, if it grows, the header's slice.
func addVary(h http.Header, fields ...string) {
	vs := h["Vary"]
	if hasField(vs, "*") {
		return
	}
	var b strings.Builder
	for _, f := range fields {
		if hasField(vs, f) {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(fields) * 16)
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f)
	}
	if b.Len() > 0 {
		h["Vary"] = append(vs, b.String())
	}
}

// hasField reports whether the comma-separated values vs name field, in any
// case.
func hasField(vs []string, field string) bool {
	for _, v := range vs {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}

// finish ends the response after the handler returns. From here on, the
// handler's handle is dead.
func (cw *responseWriter) finish() {
	cw.gen.Add(1)
	cw.end()
}

// end writes what the response still holds, once the handler is done.
func (cw *responseWriter) end() {
	switch cw.mode {
	case modeUndecided:
		if cw.sniffed != nil {
			n := len(cw.sniffed)
			cw.choose(cw.sniffed)
			if cw.writeSniffed(n) != nil {
				return
			}
			cw.end()
			return
		}
		cw.mode = modePass // no body: nothing to insert into
		if cw.status != 0 {
			cw.w.WriteHeader(cw.status)
		}
	case modeInject:
		cw.inj.Close()
	}
	if reason := cw.refusal(); reason != "" {
		cw.m.noteRefused(cw.r, reason)
	}
}

// refusal says why the page got no widget for want of a place where a
// browser would run it safely, or "".
func (cw *responseWriter) refusal() string {
	if cw.refused == "" && cw.mode == modeInject {
		return cw.inj.refused
	}
	return cw.refused
}

// flush sends what is decided and written so far to the client.
func (cw *responseWriter) flush() error {
	if cw.mode == modeUndecided {
		head := cw.sniffed
		if head == nil && cw.needsSniff() {
			cw.mode = modePass // nothing to sniff: net/http would send no type
			if cw.status != 0 {
				cw.w.WriteHeader(cw.status)
			}
		} else {
			n := len(head)
			cw.choose(head)
			if err := cw.writeSniffed(n); err != nil {
				return err
			}
		}
	}
	if cw.mode == modeInject {
		if err := cw.inj.Flush(); err != nil {
			return err
		}
		if cw.inj.pending != nil {
			return nil // nothing may reach the client before the headers are final
		}
	}
	return http.NewResponseController(cw.w).Flush() // through any Unwrap of the inner writer
}

// hijack hands the connection over; nothing more is written through cw.
func (cw *responseWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	if cw.status != 0 && cw.sniffed == nil && (cw.mode == modeUndecided || cw.inj.pending != nil) {
		// A held status goes out now, as net/http sends it at Hijack: the
		// 101 of a websocket handshake that takes the connection next.
		cw.w.WriteHeader(cw.status)
		cw.status = 0
	}
	c, rw, err := http.NewResponseController(cw.w).Hijack()
	if err == nil {
		cw.mode, cw.sniffed = modePass, nil
	}
	return c, rw, err
}

// readFrom copies src to the response. When the body passes through, it
// delegates to the inner writer, which may use sendfile.
func (cw *responseWriter) readFrom(src io.Reader) (int64, error) {
	var n int64
	if cw.mode == modeUndecided && cw.needsSniff() {
		buf := make([]byte, sniffLen)
		k, err := io.ReadFull(src, buf)
		if k > 0 {
			if _, werr := cw.Write(buf[:k]); werr != nil {
				return int64(k), werr
			}
		}
		n = int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	if cw.mode == modeUndecided {
		cw.choose(nil)
	}
	var m int64
	var err error
	if cw.mode == modePass {
		m, err = cw.w.(io.ReaderFrom).ReadFrom(src)
	} else {
		m, err = io.Copy(writerOnly{cw}, src)
	}
	return n + m, err
}

// capabilities reports whether w, or a writer down its Unwrap chain, can
// flush and hijack.
func capabilities(w http.ResponseWriter) (flush, hijack bool) {
	for w != nil && !(flush && hijack) {
		switch w.(type) {
		case http.Flusher, interface{ FlushError() error }:
			flush = true
		}
		if _, ok := w.(http.Hijacker); ok {
			hijack = true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return flush, hijack
}

// writerOnly hides ReadFrom so that io.Copy uses Write.
type writerOnly struct{ io.Writer }

// Disable tells the middleware not to insert the widget into the response
// being written to w. Call it from a handler before the first write. It
// reports whether w (or a writer it wraps) is the middleware's; if not, it
// does nothing.
func Disable(w http.ResponseWriter) bool {
	for {
		if h, ok := w.(interface{ writer() *responseWriter }); ok {
			if cw := h.writer(); cw != nil {
				cw.disabled = true
			}
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

type flusher struct{ h handle }

// Flush drains the injector and flushes the inner writer.
func (f flusher) Flush() { f.FlushError() }

// FlushError is Flush that reports the inner writer's error, as
// [http.ResponseController] wants.
func (f flusher) FlushError() error {
	if cw := f.h.live(); cw != nil {
		return cw.flush()
	}
	return errFinished
}

type hijacker struct{ h handle }

// Hijack hands the connection over, as [http.Hijacker] does.
func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if cw := h.h.live(); cw != nil {
		return cw.hijack()
	}
	return nil, nil, errFinished
}

type readerFrom struct{ h handle }

// ReadFrom copies from src, with sendfile when the body passes through.
func (r readerFrom) ReadFrom(src io.Reader) (int64, error) {
	if cw := r.h.live(); cw != nil {
		return cw.readFrom(src)
	}
	return 0, errFinished
}

// wrap returns a live handle to cw with exactly the optional interfaces of
// the inner writer: Flusher and Hijacker if it or a writer it unwraps to
// has them (as http.ResponseController would find them), ReaderFrom if it
// has it. It is made anew for each response (one allocation), since a
// handler may keep it past its return.
func (cw *responseWriter) wrap() http.ResponseWriter {
	f, hj := capabilities(cw.w)
	_, r := cw.w.(io.ReaderFrom)
	h := handle{cw, cw.gen.Load()}
	switch {
	case f && hj && r:
		return struct {
			handle
			flusher
			hijacker
			readerFrom
		}{h, flusher{h}, hijacker{h}, readerFrom{h}}
	case f && hj:
		return struct {
			handle
			flusher
			hijacker
		}{h, flusher{h}, hijacker{h}}
	case f && r:
		return struct {
			handle
			flusher
			readerFrom
		}{h, flusher{h}, readerFrom{h}}
	case hj && r:
		return struct {
			handle
			hijacker
			readerFrom
		}{h, hijacker{h}, readerFrom{h}}
	case f:
		return struct {
			handle
			flusher
		}{h, flusher{h}}
	case hj:
		return struct {
			handle
			hijacker
		}{h, hijacker{h}}
	case r:
		return struct {
			handle
			readerFrom
		}{h, readerFrom{h}}
	}
	return h
}
