package rewrite

import (
	"bytes"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// This file is the injector: the stream, what it holds back at write
// boundaries and the maxHold limits, the insertion, the decision it asks
// for once, and the second scanner that reads a <noscript> element as a
// browser with scripting off does. It drives the scanner through scan,
// acting on the events scan returns (and on where the scanner stands when a
// write ends), and asks tree.go whether a script may go where it stands
// (canInsert, canEnd, sameTree).

// maxHold bounds the bytes the injector holds back. Two inputs pass it only
// on purpose: a </body ...> or </html ...> end tag whose attributes run past
// maxHold bytes (the snippet goes before it, even if the input then ends
// inside it), and more than maxHold bytes after the
// first </html> end tag (the snippet goes before </html>, even if a </body>
// end tag follows later). The tokenizer would wait for the end of the input
// in both.
const maxHold = 4096

// MarkerAttr is the attribute that marks a <script> start tag as the
// widget's own snippet: a page that carries one before the insertion point
// gets no second. The scanner looks for this name alone (its buffers and
// fast path are sized for it), so it is a constant rather than a setting.
const MarkerAttr = "data-chatwidget"

// A Decider learns, once the [Injector] knows, whether the stream is a
// document, and returns the snippet to insert (nil: none). Decide is called
// at most once per stream, before the injector writes anything.
type Decider interface {
	Decide(document bool) []byte
}

// A Placer is a [Decider] that makes the snippet final at the insertion
// point, once the Content-Security-Policy of every <meta http-equiv> tag of
// the document's head is known: metaCSP holds their content attributes,
// character references decoded, in order, at most [MaxMetaCSP] of them;
// lost reports a <meta> of the head too long to read (over 8 KiB), which
// may have been one, or a policy past the first MaxMetaCSP. Only <meta> start
// tags that a browser makes children of the head element count: read as
// tags (not in a comment or raw text), outside template contents, before
// the body begins (a start tag the head does not take, a </body>, </html>
// or </br> end tag, or text other than white space). Place returns the
// snippet to insert, which may differ from Decide's (another nonce), or nil
// to insert nothing.
type Placer interface {
	Decider
	Place(metaCSP []string, lost bool) []byte
}

// Injector copies an HTML stream to an [io.Writer] and inserts a snippet
// once, where a browser's parser acts on the first </body> end tag (failing
// that, the first </html> end tag; failing that, the end of a document),
// or nowhere when it cannot know that place. It is not safe for concurrent
// use.
//
// The zero Injector is ready for [Injector.Reset], which must come before
// the first Write; an Injector may serve stream after stream, keeping its
// buffers. It first holds the stream back until it knows whether the stream
// is a document (a doctype, <html> or <body> start tag, or a </body> or
// </html> end tag) or a fragment (none of these in the first 4 KiB, or by a
// Flush or the end), and only then asks its [Decider] for the snippet: a
// fragment costs no decision and passes through untouched.
type Injector struct {
	w       io.Writer
	snippet []byte
	pending Decider // non-nil until the kind of stream is known
	sc      scanner

	// enc is the page's encoding, as its Content-Type declares it and then
	// as its first bytes settle it (charset.go). While headNeed > 0, the
	// first bytes gather in head, up to headNeed of them, before anything
	// else is done with them.
	enc      Encoding
	headNeed int
	head     []byte
	docKnown bool // the stream is a document whatever its first bytes (KnownDocument)

	off      int64 // stream offset of the next byte Write will see
	written  int64 // stream offset of the first byte not yet written to w
	tagStart int64 // offset of the "<" of a possible </body> or </html>; -1 if none
	htmlAt   int64 // offset of the first </html> end tag; -1 if none
	hold     []byte
	done     bool // inserted, or given up: the rest passes through
	err      error

	// Inside a noscript element, alt reads the bytes as a browser with
	// scripting off does (as markup), from offset altAt on: the element's
	// end is a place to go on from only if both read it there, with the
	// same elements open.
	alt    *scanner // kept across streams: most never need it
	altOn  bool
	altAt  int64 // stream offset of the next byte alt reads
	altEnd int64 // stream offset just after alt's last </noscript> end tag

	// refused says why the page gets no widget, once the scanner gave up;
	// "" otherwise.
	refused string

	// The head's <meta> tags: meta gathers the one being read (while
	// metaOn), metas holds the Content-Security-Policy of each read, and
	// metaLost is set if one was too long to read or past MaxMetaCSP; dec
	// is the decider, for Place.
	meta     []byte
	metaOn   bool
	metas    []string
	metaLost bool
	dec      Decider
}

// maxMeta bounds the bytes of a <meta> tag the injector reads.
const maxMeta = 8 << 10

// MaxMetaCSP bounds the Content-Security-Policy <meta> tags of the head that
// an [Injector] keeps for [Placer.Place], so that a page cannot make it keep
// (and its Placer check) an unbounded number; one past them is lost.
const MaxMetaCSP = 16

var _ io.WriteCloser = (*Injector)(nil)

// Reset makes j ready for a new stream, written to w, whose snippet d
// decides, and whose Content-Type declares the encoding enc
// ([EncodingUnknown]: none). The first bytes settle the encoding before
// anything is decided: a byte order mark, which browsers obey over the
// declared encoding, and for a page that declares none the <meta> prescan. A page in
// an encoding the snippet may not go into passes through as a fragment
// would, with a reason in [Injector.Refusal].
func (j *Injector) Reset(w io.Writer, d Decider, enc Encoding) {
	j.resetSnippet(w, nil)
	j.pending, j.enc, j.headNeed = d, enc, len("\xef\xbb\xbf")
	if enc == EncodingUnknown {
		j.headNeed = prescanLen
	}
}

// resetSnippet makes j ready for a new stream whose snippet is known, and
// so is not held back (the tests and benchmarks use it), keeping its
// buffers.
func (j *Injector) resetSnippet(w io.Writer, snippet []byte) {
	hold, head, alt, meta, metas := j.hold[:0], j.head[:0], j.alt, j.meta[:0], j.metas[:0]
	*j = Injector{}
	j.w, j.snippet, j.hold, j.head, j.alt, j.tagStart, j.htmlAt = w, snippet, hold, head, alt, -1, -1
	j.meta, j.metas = meta, metas
}

// KnownDocument tells j, after Reset and before the first Write, that the
// stream is a document, whatever its first bytes say (a navigation's
// response is one): j asks for the snippet as soon as the encoding is
// settled, and may insert at the end even with no doctype, <html> or <body>.
func (j *Injector) KnownDocument() {
	j.docKnown, j.sc.doc = true, true
}

// writeHead gathers the first bytes of the stream in head until they settle
// the encoding, then writes them, and the rest of p, through Write.
func (j *Injector) writeHead(p []byte) (int, error) {
	need := j.headNeed - len(j.head)
	if len(p) < need {
		j.head = append(j.head, p...)
		return len(p), nil
	}
	j.head = append(j.head, p[:need]...)
	if err := j.settleHead(); err != nil {
		return 0, err
	}
	if _, err := j.Write(p[need:]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// settleHead settles the encoding from the bytes gathered so far and writes
// them through Write.
func (j *Injector) settleHead() error {
	j.headNeed = 0
	enc, bom := bomEncoding(j.head)
	switch {
	case bom:
		j.enc = enc
	case j.enc == EncodingUnknown:
		j.enc = sniffEncoding(j.head)
	}
	switch {
	case j.enc == EncodingOther:
		j.refused = "the page's encoding is not one the snippet may go into"
		j.commit(false)
		j.done = true
	case j.docKnown:
		j.commit(true)
	}
	_, err := j.Write(j.head)
	return err
}

// Refusal says why the page gets no widget, if the injector gave up for
// want of a place where a browser would run it safely, or for the page's
// encoding; "" otherwise.
func (j *Injector) Refusal() string { return j.refused }

// Release drops what j holds of the stream it served (its writer, its
// [Decider], an error), so that a pooled injector keeps no writer or page
// alive. It reports whether j's buffers are small enough to be worth
// keeping.
func (j *Injector) Release() (keep bool) {
	j.w, j.pending, j.err, j.dec = nil, nil, nil, nil
	clear(j.metas)
	return cap(j.hold) <= 2*maxHold && cap(j.meta) <= maxMeta
}

// Encoding returns the page's encoding: the declared one until the first
// bytes settle it (at the latest by the Decide call), then the settled one.
// [EncodingUnknown] means that neither the Content-Type, a byte order mark
// nor a <meta> names one.
func (j *Injector) Encoding() Encoding { return j.enc }

// commit asks the decider for the snippet, once the kind of stream is
// known. Without a snippet, the rest passes through.
func (j *Injector) commit(document bool) {
	d := j.pending
	if d == nil {
		return
	}
	j.pending, j.dec = nil, d
	if j.snippet = d.Decide(document); j.snippet == nil {
		j.tagStart, j.htmlAt = -1, -1
		j.done = true
	}
}

// Write scans p for the insertion point and writes what precedes any
// possible insertion point to the underlying writer. It reports len(p) unless
// the underlying writer fails.
func (j *Injector) Write(p []byte) (int, error) {
	if j.err != nil {
		return 0, j.err
	}
	if j.headNeed > 0 {
		return j.writeHead(p)
	}
	if j.done {
		return j.passthrough(p)
	}
	base := j.off
	j.off += int64(len(p))
	for i := 0; i < len(p) && !j.done; {
		var ev event
		from := i
		i, ev = j.sc.scan(p, i, base)
		if j.metaOn {
			j.readMeta(p[from:i], ev)
		}
		if j.altOn && !j.followAlt(p, base, i, ev) {
			ev = evGiveUp
		}
		if ev == evNone {
			continue
		}
		if ev == evMeta {
			j.meta, j.metaOn = append(j.meta[:0], "<meta "...), true
			continue
		}
		pos := base + int64(i)
		if j.pending != nil && ev >= evDoc {
			if j.commit(pos <= maxHold); j.done {
				break
			}
		}
		if at := j.overdue(pos); at >= 0 && ev >= evBodyEnd {
			j.insertAt(p[:pos-base], pos, at) // the maxHold limits, as settle applies them
			break
		}
		j.handle(ev, p, base, pos)
	}
	if j.done {
		j.emit(p, base, j.off)
		return len(p), j.err
	}
	j.settle(p, base)
	return len(p), j.err
}

// passthrough writes p once the insertion is decided.
func (j *Injector) passthrough(p []byte) (int, error) {
	n, err := j.w.Write(p)
	j.off += int64(n)
	j.written = j.off
	if err != nil {
		j.err = err
	}
	return n, err
}

// settle ends a Write that has not decided: it writes everything before the
// held-back point and keeps the rest, unless the maxHold limits decide: no
// sign of a document in the first maxHold bytes makes a fragment, and more
// than maxHold bytes after </html> or after the start of a </body> end tag
// insert there. The limits depend on offsets, not on write boundaries.
func (j *Injector) settle(p []byte, base int64) {
	if j.pending != nil && j.off > maxHold {
		j.commit(false) // no sign of a document: a fragment
		j.emit(p, base, j.off)
		return
	}
	if at := j.overdue(j.off); at >= 0 {
		j.insertAt(p, j.off, at)
		return
	}
	j.emit(p, base, j.pinned())
	if from := max(j.written, base); from < j.off {
		j.hold = append(j.hold, p[from-base:]...)
	}
}

// overdue returns where to insert if the stream has reached pos without
// settling a held-back point within maxHold bytes, or -1.
func (j *Injector) overdue(pos int64) int64 {
	at := int64(-1)
	if j.htmlAt >= 0 && pos > j.htmlAt+maxHold {
		at = j.htmlAt
	}
	if j.tagStart >= 0 && pos > j.tagStart+maxHold && (at < 0 || j.tagStart < at) {
		at = j.tagStart
	}
	return at
}

// pinned is the offset before which everything may be written.
func (j *Injector) pinned() int64 {
	if j.pending != nil {
		return j.written
	}
	at := j.off
	if j.htmlAt >= 0 && j.htmlAt < at {
		at = j.htmlAt
	}
	if j.tagStart >= 0 && j.tagStart < at {
		at = j.tagStart
	}
	if (j.sc.state == sTagOpen || j.sc.state == sEndTagOpen) && j.sc.lt < at {
		at = j.sc.lt // a write boundary cut "<" or "</" from what follows
	}
	return at
}

// emit writes the stream's bytes from j.written up to the offset upto, taking
// them from the hold buffer first and then from p, which starts at offset
// base.
func (j *Injector) emit(p []byte, base, upto int64) {
	if j.err != nil || upto <= j.written {
		return
	}
	if len(j.hold) > 0 {
		k := int(min(upto-j.written, int64(len(j.hold))))
		j.write(j.hold[:k])
		j.hold = j.hold[:copy(j.hold, j.hold[k:])]
		j.written += int64(k)
	}
	if upto > j.written {
		j.write(p[j.written-base : upto-base])
		j.written = upto
	}
}

func (j *Injector) write(b []byte) {
	if j.err != nil || len(b) == 0 {
		return
	}
	_, j.err = j.w.Write(b)
}

// insertAt writes everything before at, then the snippet, then the rest of
// what is held and of p (which ends at offset end), and passes the rest of
// the stream through.
func (j *Injector) insertAt(p []byte, end, at int64) {
	base := end - int64(len(p))
	j.emit(p, base, at)
	if pl, ok := j.dec.(Placer); ok {
		j.snippet = pl.Place(j.metas, j.metaLost)
	}
	j.write(j.snippet)
	j.emit(p, base, end)
	j.done = true
}

// readMeta gathers b, the next bytes of a <meta> start tag of the head, and
// at its end (ev is evMetaEnd) keeps its Content-Security-Policy, if any.
func (j *Injector) readMeta(b []byte, ev event) {
	if len(j.meta)+len(b) > maxMeta {
		j.metaOn, j.metaLost = false, true
		return
	}
	j.meta = append(j.meta, b...)
	if ev != evMetaEnd {
		return
	}
	j.metaOn = false
	if csp, ok := metaCSP(j.meta); ok {
		if len(j.metas) == MaxMetaCSP {
			j.metaLost = true
			return
		}
		j.metas = append(j.metas, csp)
	}
}

// metaCSP returns the policy of tag, a <meta> start tag, if it is a
// Content-Security-Policy: its http-equiv is that (ASCII
// case-insensitively) and it has a content attribute, whose character
// references are decoded as a browser does. Of repeated attributes the
// first counts.
func metaCSP(tag []byte) (string, bool) {
	if !containsFold(tag, "http-equiv") {
		return "", false // most <meta> tags: read no further
	}
	z := html.NewTokenizer(bytes.NewReader(tag))
	if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
		return "", false
	}
	var equiv, content string
	var hasEquiv, hasContent bool
	_, more := z.TagName()
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "http-equiv":
			if !hasEquiv {
				equiv, hasEquiv = string(v), true
			}
		case "content":
			if !hasContent {
				content, hasContent = string(v), true
			}
		}
	}
	return content, hasContent && strings.EqualFold(equiv, "content-security-policy")
}

// containsFold reports whether b holds word, a lower-case ASCII word, in
// any case.
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		k := 0
		for k < len(word) && asciiLower(b[i+k]) == word[k] {
			k++
		}
		if k == len(word) {
			return true
		}
	}
	return false
}

// handle acts on a scanner event found in p (which starts at offset base);
// pos is the offset just after the byte that raised it.
func (j *Injector) handle(ev event, p []byte, base, pos int64) {
	switch ev {
	case evCandidate:
		if j.sc.canInsert() {
			j.tagStart = j.sc.lt
		}
	case evNotCandidate:
		j.tagStart = -1
	case evBodyEnd:
		if j.tagStart >= 0 {
			j.insertAt(p[:pos-base], pos, j.tagStart)
		}
	case evHTMLEnd:
		if j.htmlAt < 0 {
			j.htmlAt = j.tagStart
		}
		j.tagStart = -1
	case evNoscript:
		if j.alt == nil {
			j.alt = new(scanner)
		}
		*j.alt = j.sc
		j.alt.scriptOff, j.alt.inNoscript, j.alt.state = true, false, sData
		j.altOn, j.altAt, j.altEnd = true, pos, -1
	case evGiveUp:
		j.giveUp(p, base, pos)
	case evMarker:
		j.tagStart, j.htmlAt = -1, -1
		j.emit(p, base, pos)
		j.done = true
	}
}

// followAlt reads p (which starts at offset base) with alt up to index i,
// where the scanner raised ev, and reports whether the two readings still
// agree: at the scanner's </noscript> end tag, alt must have read the same
// end tag there, with the same elements open.
func (j *Injector) followAlt(p []byte, base int64, i int, ev event) bool {
	for k := int(j.altAt - base); k < i; {
		var aev event
		k, aev = j.alt.scan(p[:i], k, base)
		switch aev {
		case evGiveUp:
			j.sc.reason = j.alt.reason
			return false
		case evNoscriptEnd:
			j.altEnd = base + int64(k)
		}
	}
	j.altAt = base + int64(i)
	if ev != evNoscriptEnd {
		return true
	}
	j.altOn = false
	if j.altEnd != j.altAt || !j.alt.sameTree(&j.sc) {
		j.sc.reason = "a noscript element read otherwise with scripting off"
		return false
	}
	j.sc.stale = j.sc.stale || j.alt.stale
	return true
}

// giveUp ends the search when the scanner cannot follow the browser: the
// page gets no widget, unless a </html> end tag seen before was a place it
// may go (what follows cannot change how the bytes before it are read).
// A page whose snippet is not decided yet is taken for a fragment, so that
// its Decider makes no snippet for it.
func (j *Injector) giveUp(p []byte, base, pos int64) {
	if j.htmlAt >= 0 {
		j.insertAt(p[:pos-base], pos, j.htmlAt)
		return
	}
	j.refused = j.sc.reason
	j.tagStart = -1
	if j.pending != nil {
		j.commit(false)
	}
	j.done = true
}

// Flush writes everything except a cut </body> or </html> end tag. If a
// </html> end tag was seen, Flush commits to inserting before it, so that what
// follows reaches the writer now. A stream whose kind is not known yet is
// taken for a document if nothing was written (so that the caller's
// decision, and what it sends before the stream, need not wait); otherwise
// it stays held until a sign of a document, 4 KiB (maxHold) or the end.
func (j *Injector) Flush() error {
	if j.err != nil {
		return j.err
	}
	if j.headNeed > 0 {
		if err := j.settleHead(); err != nil {
			return err
		}
	}
	if j.pending != nil {
		if j.off > 0 {
			return nil
		}
		j.commit(true)
	}
	if j.done {
		j.emit(nil, j.off, j.off)
		return j.err
	}
	if j.htmlAt >= 0 {
		j.insertAt(nil, j.off, j.htmlAt)
		return j.err
	}
	j.emit(nil, j.off, j.pinned())
	return j.err
}

// Close ends the stream and writes what is held. With no </body> end tag, it
// inserts the snippet before the first </html> end tag; with neither, at the
// end, but only into a document (a doctype, <html> or <body> start tag was
// read): a fragment gets nothing. It does not close the underlying writer.
func (j *Injector) Close() error {
	if j.err != nil {
		return j.err
	}
	if j.headNeed > 0 {
		if err := j.settleHead(); err != nil {
			return err
		}
	}
	if j.pending != nil {
		j.commit(j.sc.doc || j.htmlAt >= 0)
	}
	if j.done {
		j.emit(nil, j.off, j.off)
		return j.err
	}
	switch {
	case j.htmlAt >= 0:
		j.insertAt(nil, j.off, j.htmlAt)
	case j.sc.doc && j.sc.canEnd():
		j.insertAt(nil, j.off, j.off)
	case j.sc.doc:
		j.refused = "the page ends where a browser would not run the snippet"
		fallthrough
	default:
		j.emit(nil, j.off, j.off)
		j.done = true
	}
	return j.err
}
