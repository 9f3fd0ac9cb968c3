package chatwidget

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/chatwidget/chatwidget/internal/rewrite"
)

// sniffLen is how many bytes net/http looks at to sniff a content type.
const sniffLen = 512

// A phase is where a responseWriter is in the life of its response. It is
// the writer's whole state as far as what to do with a call goes:
//
//	sniffing ──▶ passing ─────────────┐
//	    │                             ├──▶ finished
//	    └──▶ holding ──▶ injecting ───┘
//
// and any phase but finished may end in hijacked. The held status goes out
// in commit, when a phase that sends the headers begins.
type phase uint8

const (
	sniffing  phase = iota // nothing decided: the status, and the first bytes while no Content-Type says what they are, are held
	holding                // an HTML page: the injector holds the body, and so the headers, until it knows whether it is a document
	injecting              // the headers are out; the body streams through the injector, which inserts the widget or not
	passing                // the headers are out, or go with the first byte; the body passes through untouched
	hijacked               // the handler took the connection
	finished               // the handler returned: nothing more is written
)

// headersOut reports whether the headers went out, or go with the next
// byte: they can no longer change.
func (p phase) headersOut() bool { return p >= injecting }

// responseWriter decides at the first write whether the response gets the
// widget, then passes the body through or streams it through an injector.
// It implements Flush, Hijack and ReadFrom only through the wrappers made by
// wrap, which advertise exactly what the inner writer has.
type responseWriter struct {
	// response is the state of the response being written, all of it
	// reset by one assignment in newResponseWriter, so that nothing of one
	// visitor's response can stay for the next.
	response
	inj     *rewrite.Injector // never nil; kept across requests by the pool
	snippet []byte            // a buffer kept across requests
	// gen counts the responses cw served: the handle a handler got is live
	// only while gen is the one it was made with (see handle).
	gen atomic.Uint64
	// mu is held by every call through a handle, from its check of gen to
	// its end, and by serve while it ends the response: a call that a
	// goroutine began before the handler returned ends before cw goes
	// back to the pool, instead of running on into the next response.
	mu sync.Mutex
}

// response is what a responseWriter knows of the response it writes.
type response struct {
	w     http.ResponseWriter
	r     *http.Request
	m     *Middleware
	phase phase
	// variant is set when the request does not load a document (a fetch,
	// an iframe): the body always passes through, and an HTML page only
	// gets the Vary of the page it is a variant of.
	variant  bool
	disabled bool   // Disable was called
	status   int    // the final status, held until commit; 0 if none
	sniffed  []byte // the first bytes, while no Content-Type says what they are
	// refused says why the page gets no widget, when the writer decided
	// so, and refusedWhat what about it (a charset, a Content-Encoding).
	refused     refusal
	refusedWhat string
	// rc decodes the body of a page the handler compressed for the
	// injector, and encodes the injector's output again; nil otherwise.
	rc *recoder
	// abort makes finish abort the response: its body stopped decoding
	// after re-encoded bytes went out, so it cannot end as a whole page.
	abort bool
	// token is the widget's token, once render made the snippet (zero:
	// anonymous), and policies the page's Content-Security-Policy headers
	// as render found them; place renders the snippet again with the
	// nonce that the policies of the head's <meta> tags leave.
	token          signed
	policies       []cspPolicy
	headerPolicies int    // how many of policies came from the headers
	nonce          string // the nonce the snippet carries
	want           string // WithNonce's nonce, or ""
	// contentType is what the writer sets as the Content-Type of a page
	// that gets the widget, or "": the type sniffed from its first bytes,
	// or text/html; charset=utf-8 for a page whose header named no charset
	// and that the injector settled as UTF-8.
	contentType string
	// handed is the token of the widget that Snippet handed out for this
	// response (see handOut); the headers must then suit it.
	handed    signed
	handedOut bool
	handedBy  *Middleware
	private   bool // the headers were made private for a token
	varied    bool // the headers got pageVary
}

// Compile-time checks of what the writer's pieces implement.
var (
	_ http.ResponseWriter = handle{}
	_ http.Flusher        = flusher{}
	_ http.Hijacker       = hijacker{}
	_ io.ReaderFrom       = readerFrom{}
	_ rewrite.Placer      = (*responseWriter)(nil)
	_ http.ResponseWriter = finishedWriter{}
)

func newResponseWriter(w http.ResponseWriter, r *http.Request, m *Middleware, variant bool) *responseWriter {
	cw := writerPool.Get().(*responseWriter)
	// The injector is left as Release left it: choose resets it before any
	// use, and most responses never use it. It is behind a pointer so that
	// its scanner's stack is not copied or cleared for them.
	cw.response = response{w: w, r: r, m: m, phase: sniffing, variant: variant, refused: notRefused, policies: cw.policies[:0]}
	cw.snippet = cw.snippet[:0]
	return cw
}

// writerPool keeps response writers, their buffers and their interface
// wrappers between requests: passing a response through then allocates
// only its handle (BenchmarkMiddleware/json-10KB).
var writerPool = sync.Pool{New: func() any { return &responseWriter{inj: new(rewrite.Injector)} }}

// release returns cw to the pool once the handler has returned, dropping
// what belongs to the request.
func (cw *responseWriter) release() {
	keep := cw.inj.Release() && cap(cw.snippet) <= 16<<10
	if cw.rc != nil {
		cw.rc.release()
	}
	clear(cw.policies)
	cw.response = response{policies: cw.policies[:0]} // nothing of the request stays reachable
	if keep {
		writerPool.Put(cw) // else let an unusually large buffer go
	}
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

// lock locks cw and returns it while the handler's response is being
// written; else it returns nil, leaving cw unlocked. The caller unlocks it.
func (h handle) lock() *responseWriter {
	h.cw.mu.Lock()
	if h.cw.gen.Load() != h.gen {
		h.cw.mu.Unlock()
		return nil
	}
	return h.cw
}

// Header returns the inner writer's header map; a map that goes nowhere
// once the handler has returned.
func (h handle) Header() http.Header {
	if cw := h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.w.Header()
	}
	return http.Header{}
}

// Write writes the body; see responseWriter.Write.
func (h handle) Write(p []byte) (int, error) {
	if cw := h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.Write(p)
	}
	return 0, errFinished
}

// WriteHeader sends or holds the status; see responseWriter.WriteHeader.
func (h handle) WriteHeader(code int) {
	if cw := h.lock(); cw != nil {
		defer cw.mu.Unlock()
		cw.WriteHeader(code)
	}
}

// Unwrap returns the inner writer, for [http.ResponseController]; once the
// handler has returned, a writer whose every method fails.
func (h handle) Unwrap() http.ResponseWriter {
	if cw := h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.w
	}
	return finishedWriter{}
}

// finishedWriter is the inner writer of a dead handle.
type finishedWriter struct{}

func (finishedWriter) Header() http.Header         { return http.Header{} }
func (finishedWriter) Write([]byte) (int, error)   { return 0, errFinished }
func (finishedWriter) WriteHeader(int)             {}
func (finishedWriter) FlushError() error           { return errFinished }
func (finishedWriter) Unwrap() http.ResponseWriter { return nil }

// commit begins phase p, in which the headers go out: the rules for a
// token that Snippet handed out apply, and the held status goes out. It is
// the only place that sends the held status.
func (cw *responseWriter) commit(p phase) {
	cw.phase = p
	if cw.handedOut {
		cw.vary()
		// Another middleware's token (a Switch, nested middlewares) may
		// expire before the one render made the headers private for.
		if cw.handed.token != "" && (!cw.private || cw.handedBy != cw.m) {
			cw.makePrivate(cw.handed)
		}
	}
	if cw.status == 0 && p == injecting {
		// The headers of a page go out now even if the injector holds
		// back every byte so far (a cut "</b"): a handler that changes
		// them later, as net/http would ignore, must not undo its rules.
		cw.status = http.StatusOK
	}
	if cw.status != 0 {
		cw.w.WriteHeader(cw.status)
		cw.status = 0
	}
}

// WriteHeader holds a final status until the headers are decided, so that
// they can still change; 1xx informational responses go out at once.
func (cw *responseWriter) WriteHeader(code int) {
	switch {
	case cw.phase.headersOut():
		if cw.phase != finished {
			cw.w.WriteHeader(code) // superfluous, or too late: net/http says so
		}
	case cw.phase == holding || cw.sniffed != nil:
		// Superfluous: body bytes were written, and net/http would have
		// sent a 200 with them.
	case code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols:
		cw.w.WriteHeader(code)
	case cw.status == 0:
		cw.status = code
	}
}

// Write sends p the way the phase says, deciding first if need be.
func (cw *responseWriter) Write(p []byte) (int, error) {
	switch cw.phase {
	case passing:
		return cw.w.Write(p)
	case holding, injecting:
		if cw.rc != nil {
			return cw.writeCoded(p)
		}
		return cw.inj.Write(p)
	case hijacked:
		return cw.w.Write(p) // net/http's writer fails, and says so
	case finished:
		return 0, errFinished
	}
	// Once a first write went out with no type, net/http sniffs the type
	// from the first bytes and ignores a Content-Type set since: so does
	// the writer, which keeps sniffing (and so drops none of them).
	if ct, declared := cw.declaredType(); declared && cw.sniffed == nil {
		cw.choose(ct, "")
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
	cw.chooseSniffed(head)
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
	_, err := cw.Write(b)
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

// decideSniffing ends the sniffing phase with what was written so far:
// the held bytes if any (their type sniffed), else the declared type.
func (cw *responseWriter) decideSniffing() error {
	if cw.sniffed == nil {
		ct, _ := cw.declaredType()
		cw.choose(ct, "")
		return nil
	}
	n := len(cw.sniffed)
	cw.chooseSniffed(cw.sniffed)
	return cw.writeSniffed(n)
}

// chooseSniffed chooses the path of a body whose type is sniffed from its
// first bytes, head, as net/http does.
func (cw *responseWriter) chooseSniffed(head []byte) {
	sniffed := http.DetectContentType(head)
	cw.choose(extractMIME([]string{sniffed}), sniffed)
}

// choose ends the sniffing phase for a body of type ct, declared or (then
// sniffed is the sniffed Content-Type) sniffed. An HTML page in an encoding
// the snippet may go into is held for the injector, which calls Decide once
// it knows whether the body is a document; anything else passes.
func (cw *responseWriter) choose(ct contentType, sniffed string) {
	if !cw.injectable(ct) {
		cw.commit(passing)
		return
	}
	c, ce := contentCoding(cw.w.Header())
	enc := rewrite.LabelEncoding(ct.charset)
	switch {
	case c == otherCoding:
		if !cw.variant {
			cw.refuse(refusedEncoding, ce)
		}
		cw.commit(passing)
		return
	case enc == rewrite.EncodingOther || ct.mixed:
		if !cw.variant {
			cw.refuse(refusedCharset, truncate(ct.charset, 40))
		}
		cw.commit(passing)
		return
	}
	// Whether this response gets the widget or not, a document loaded
	// from the same URL may: every variant varies as it does.
	cw.vary()
	if cw.variant {
		cw.commit(passing)
		return
	}
	cw.phase = holding
	if sniffed != "" {
		cw.contentType = sniffed
	} else if enc == rewrite.EncodingUnknown {
		// As net/http does for a sniffed page; and a <meta charset> the
		// page lets through can no longer switch the encoding.
		cw.contentType = "text/html; charset=utf-8"
	}
	var out io.Writer = cw.w
	if c != identity {
		client := io.Writer(cw.w)
		if cw.r.Method == http.MethodHead {
			client = io.Discard // the headers of the GET page, and no body
		}
		cw.rc = newRecoder(c, client)
		out = cw.rc
	}
	cw.inj.Reset(out, cw, enc)
	if header(cw.r.Header, "Sec-Fetch-Dest") == "document" || cw.r.Method == http.MethodHead {
		// A navigation: the response is a document, with no need to wait
		// for a sign of one. A HEAD response gets the headers of the
		// page a GET would get.
		cw.inj.KnownDocument()
	}
}

// Decide is called by the injector when it knows whether the body is a
// document; it ends the holding phase. For a document it renders the
// snippet for the visitor and makes the headers true of the page; then the
// headers go out. It returns the snippet, or nil when nothing is to be
// inserted.
func (cw *responseWriter) Decide(document bool) []byte {
	var snippet []byte
	if document {
		snippet = cw.render()
	}
	cw.commit(injecting)
	if cw.r.Method == http.MethodHead {
		return nil // the headers of the page, and no body
	}
	return snippet
}

// render returns the widget's HTML for the visitor, and makes the headers
// true of the page it goes into; nil when the page gets no widget.
func (cw *responseWriter) render() []byte {
	nonce, ok := cw.headerNonce()
	if !ok {
		return nil // the page's CSP header would block the scripts
	}
	t := cw.handed
	if !cw.handedOut || cw.handedBy != cw.m {
		t = cw.m.visitorToken(cw.r) // one resolver call, unless Snippet made it
	}
	if t.token == "" && !cw.m.anonymous {
		return nil
	}
	if len(cw.policies) > 0 {
		if nonce, ok = cw.policyNonce(cw.m.scripts.of(t), "a Content-Security-Policy header"); !ok {
			return nil
		}
	}
	snippet := cw.m.appendSnippet(cw.snippet[:0], t, nonce)
	if cw.inj.Encoding() == rewrite.EncodingASCII && !isASCII(snippet) {
		cw.refuse(refusedCharset, "the snippet is not ASCII")
		return nil
	}
	cw.token, cw.nonce = t, nonce
	cw.snippet = snippet
	rewriteHeaders(cw.w.Header(), cw.contentType, false, 0)
	cw.varied = true
	if t.token != "" {
		cw.makePrivate(t)
	}
	return snippet
}

// vary adds pageVary to the headers, once.
func (cw *responseWriter) vary() {
	if !cw.varied {
		addVary(cw.w.Header(), pageVary...)
		cw.varied = true
	}
}

// makePrivate keeps the response, which carries token t, out of shared
// caches and out of the browser's cache past t's exp.
func (cw *responseWriter) makePrivate(t signed) {
	makePrivate(cw.w.Header(), t.exp-cw.m.signer.now().Unix())
	cw.private = true
}

// handOut reports whether the widget with token t (zero: anonymous) may go
// into this response, which Snippet was asked for, and if so sees to it
// that the headers suit it: the token's page must be private, and any
// widget page must carry pageVary. Once the headers are out, that is so
// only if they already do.
func (cw *responseWriter) handOut(m *Middleware, t signed) bool {
	if cw.phase.headersOut() {
		return cw.varied && (t.token == "" || cw.private)
	}
	if !cw.handedOut || t.token != "" {
		cw.handed, cw.handedOut, cw.handedBy = t, true, m
	}
	return true
}

// locker is what wrap's writers have: their handle's lock.
type locker interface{ lock() *responseWriter }

// handOutTo is handOut on the live writer behind w, a handler's writer made
// by wrap; false if w is none or its handler has returned.
func handOutTo(w http.ResponseWriter, m *Middleware, t signed) bool {
	h, ok := w.(locker)
	if !ok {
		return false
	}
	cw := h.lock()
	if cw == nil {
		return false
	}
	defer cw.mu.Unlock()
	return cw.handOut(m, t)
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
// a body that the widget may go into, in some Content-Encoding (choose
// tells which). An XHTML page is left alone: the browser's XML parser would
// stop at the first byte of the snippet that is not well-formed XML.
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
	// As a browser reads them: net/http sends a key in any case as it is
	// (h["content-disposition"]), and each line counts. The
	// Content-Encoding is choose's (see contentCoding).
	for k, vs := range cw.w.Header() {
		switch {
		case strings.EqualFold(k, "Content-Disposition"):
			for _, v := range vs {
				// A download (a type other than inline, which Chromium
				// takes for attachment): the saved file must not keep a
				// token.
				if typ, _, _ := strings.Cut(v, ";"); strings.TrimSpace(v) != "" && !strings.EqualFold(strings.TrimSpace(typ), "inline") {
					return false
				}
			}
		case strings.EqualFold(k, "Content-Range"):
			if len(vs) > 0 {
				return false
			}
		case k != "Content-Type" && strings.EqualFold(k, "Content-Type"):
			return false // a line the writer cannot order against its own
		}
	}
	return true
}

// end is finish under cw's lock, which it leaves unlocked even if finish
// panics (a resolver that aborts with http.ErrAbortHandler): the handle is
// dead by then, and a goroutine that calls it finds it so.
func (cw *responseWriter) end() {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.finish()
}

// finish ends the response after the handler returns. From here on, the
// handler's handle is dead. The decoder's goroutine, if any, has ended when
// finish returns or panics: the body's last bytes may reach the decision
// here (a decoder that hands them over only at the end of the body), and
// a resolver, a WithNonce function or a signer may panic there.
func (cw *responseWriter) finish() {
	defer cw.abandon()
	cw.gen.Add(1)
	if cw.phase == sniffing {
		cw.endSniffing()
	}
	if cw.phase == holding || cw.phase == injecting {
		cw.closeBody()
		if cw.refused == notRefused {
			if reason := cw.inj.Refusal(); reason != "" {
				cw.refuse(injectorRefusal(reason), reason)
			}
		}
	}
	if cw.phase != hijacked {
		cw.phase = finished
	}
	if cw.refused != notRefused {
		cw.m.noteRefused(cw.r, cw.refused, cw.refusedWhat)
	}
	if cw.abort {
		// The client got the page up to where it stopped decoding; a
		// clean end would make a truncated page look whole (to a cache,
		// too). The decoder's goroutine has ended, and abandon is a no-op.
		panic(http.ErrAbortHandler)
	}
}

// refuse records why the page gets no widget, unless a reason is there.
func (cw *responseWriter) refuse(why refusal, what string) {
	if cw.refused == notRefused {
		cw.refused, cw.refusedWhat = why, what
	}
}

// closeBody ends the body of a page held or streamed through the injector.
func (cw *responseWriter) closeBody() {
	if cw.rc == nil {
		cw.inj.Close()
		return
	}
	if _, derr := cw.rc.end(cw.inj); derr != nil {
		cw.undecodable(derr)
	}
	if cw.phase == passing || cw.abort {
		return
	}
	cw.inj.Close()
	cw.rc.close()
}

// writeCoded writes p, bytes of a body in the handler's Content-Encoding,
// through the decoder, the injector and the encoder.
func (cw *responseWriter) writeCoded(p []byte) (int, error) {
	err, derr := cw.rc.write(p, cw.inj)
	if derr != nil {
		err = cw.undecodable(derr)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// undecodable deals with a body that does not decode as its
// Content-Encoding says. If none of the recoder's bytes went out, the body
// goes out as the handler wrote it (the bytes of the Write at hand
// included), and the rest passes through: it returns nil, or the inner
// writer's error. Otherwise the client gets everything decoded so far, and
// the response is aborted at the end; what the handler writes from here on
// is dropped, and it returns derr.
func (cw *responseWriter) undecodable(derr error) error {
	cw.refuse(refusedUndecodable, truncate(derr.Error(), maxLogValue))
	if raw, ok := cw.rc.untouched(); ok {
		if cw.phase == holding {
			cw.commit(passing)
		}
		cw.phase = passing
		if len(raw) > 0 {
			if _, err := cw.w.Write(raw); err != nil {
				return err
			}
		}
		return nil
	}
	if !cw.abort {
		cw.abort = true
		if cw.inj.Flush() == nil && cw.rc.flush() == nil {
			// Out of net/http's buffers too, which a panic drops.
			http.NewResponseController(cw.w).Flush() //nolint:errcheck // aborted anyway
		}
	}
	return derr
}

// abandon ends the decoder's goroutine, if one still runs (a hijacked
// body's, or one left by a panic in the handler or in finish), so that none
// outlives ServeHTTP. Calling it again does nothing.
func (cw *responseWriter) abandon() {
	if cw.rc != nil {
		cw.rc.abandon()
	}
}

// endSniffing ends the sniffing phase of a response whose handler returned.
func (cw *responseWriter) endSniffing() {
	if cw.sniffed != nil {
		cw.decideSniffing()
		return
	}
	if _, declared := cw.declaredType(); declared && cw.r.Method == http.MethodHead {
		cw.decideSniffing() // the headers of the page a GET would get
		return
	}
	cw.commit(passing) // no body: nothing to insert into
}

// flush sends what is decided and written so far to the client.
func (cw *responseWriter) flush() error {
	switch cw.phase {
	case sniffing:
		if cw.sniffed == nil && cw.needsSniff() {
			cw.commit(passing) // nothing to sniff: net/http would send no type
		} else if err := cw.decideSniffing(); err != nil {
			return err
		}
		return cw.flush()
	case holding, injecting:
		if cw.abort {
			return errUndecodable
		}
		if err := cw.inj.Flush(); err != nil {
			return err
		}
		if cw.phase == holding {
			return nil // nothing may reach the client before the headers are final
		}
		if cw.rc != nil && cw.phase == injecting {
			if err := cw.rc.flush(); err != nil {
				return err
			}
		}
	case hijacked:
		return http.ErrHijacked
	case finished:
		return errFinished
	}
	return http.NewResponseController(cw.w).Flush() // through any Unwrap of the inner writer
}

// hijack hands the connection over; nothing more is written through cw.
func (cw *responseWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch cw.phase {
	case hijacked, finished:
		return nil, nil, http.ErrHijacked
	case sniffing:
		// What was written goes out first, as net/http sends it at Hijack,
		// and so does a held status: the 101 of a websocket handshake that
		// takes the connection next.
		if cw.sniffed == nil {
			cw.commit(passing)
		} else if err := cw.decideSniffing(); err != nil {
			return nil, nil, err
		}
	}
	if cw.phase == holding || cw.phase == injecting {
		if err := cw.inj.Flush(); err != nil {
			return nil, nil, err
		}
		if cw.rc != nil {
			if err := cw.rc.flush(); err != nil {
				return nil, nil, err
			}
		}
	}
	c, rw, err := http.NewResponseController(cw.w).Hijack()
	if err == nil {
		cw.phase = hijacked
	}
	return c, rw, err
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
		if h, ok := w.(locker); ok {
			if cw := h.lock(); cw != nil {
				cw.disabled = true
				cw.mu.Unlock()
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
	if cw := f.h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.flush()
	}
	return errFinished
}

type hijacker struct{ h handle }

// Hijack hands the connection over, as [http.Hijacker] does.
func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if cw := h.h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.hijack()
	}
	return nil, nil, errFinished
}

type readerFrom struct{ h handle }

// ReadFrom copies src to the response. When the body passes through, it
// delegates to the inner writer, which may use sendfile, under the
// writer's lock as every call through the handle is: a goroutine's
// ReadFrom that began before the handler returned ends in this response.
// Otherwise no lock is held while src is read: the first bytes to sniff,
// and a body being rewritten, go through the handle's Write, which locks.
func (r readerFrom) ReadFrom(src io.Reader) (int64, error) {
	cw := r.h.lock()
	if cw == nil {
		return 0, errFinished
	}
	sniff := cw.phase == sniffing && cw.needsSniff()
	cw.mu.Unlock()
	var n int64
	if sniff {
		buf := make([]byte, sniffLen)
		k, err := io.ReadFull(src, buf)
		if k > 0 {
			if _, werr := r.h.Write(buf[:k]); werr != nil {
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
	if cw = r.h.lock(); cw == nil {
		return n, errFinished
	}
	var err error
	if cw.phase == sniffing {
		err = cw.decideSniffing()
	}
	if inner, ok := cw.w.(io.ReaderFrom); ok && err == nil && cw.phase == passing {
		defer cw.mu.Unlock()
		m, err := inner.ReadFrom(src)
		return n + m, err
	}
	cw.mu.Unlock()
	if err != nil {
		return n, err
	}
	m, err := io.Copy(writerOnly{r.h}, src)
	return n + m, err
}
