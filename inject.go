package chatwidget

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
)

// This file is the streaming HTML rewriter. It finds the insertion point that
// golang.org/x/net/html's Tokenizer defines (before the first </body> end
// tag; failing that, before the first </html> end tag; failing that, at the
// end if the stream began a document, else nowhere) without tokenizing.
//
// A resumable scanner jumps between the bytes that matter with
// bytes.IndexByte and keeps only the few states of the tokenizer that decide
// where tags, comments and raw text begin and end. Most tags, and script
// data, are read on fast paths (fastTag, fastScriptTag, fastScript) that test
// eight bytes at a time and save no state: they read only what ends within
// the write at hand and leave anything else to the resumable states. The
// fuzz test holds the whole to the tokenizer's answer on every input and
// every chunking; TestFastPathsExhaustive and TestWatchedNames hold the fast
// paths to it on every short sequence of the bytes that steer them.
//
// Memory is constant: the only bytes held back are those of a possible
// </body> or </html> end tag that a write boundary cut, and after a </html>
// end tag, up to maxHold bytes in case a </body> end tag still follows.

// maxHold bounds the bytes the injector holds back. Two inputs pass it only
// on purpose: a </body ...> or </html ...> end tag whose attributes run past
// maxHold bytes (the snippet goes before it, even if the input then ends
// inside it), and more than maxHold bytes after the
// first </html> end tag (the snippet goes before </html>, even if a </body>
// end tag follows later). The tokenizer would wait for the end of the input
// in both.
const maxHold = 4096

// scanState is where the scanner stands, named after the x/net/html
// tokenizer's (and the HTML standard's) states it mirrors.
type scanState uint8

const (
	sData                scanState = iota // text, between tags
	sTagOpen                              // after "<"
	sEndTagOpen                           // after "</"
	sTagName                              // in a start or end tag's name
	sBeforeAttr                           // in a tag, before an attribute or ">"
	sAttrKey                              // in an attribute name
	sAfterKey                             // after an attribute name
	sBeforeValue                          // after "="
	sQuoted                               // in a quoted attribute value
	sUnquoted                             // in an unquoted attribute value
	sMarkup0                              // after "<!"
	sMarkup1                              // after "<!-"
	sDoctype                              // matching "doctype" after "<!"
	sComment                              // in "<!--" ... "-->"
	sCommentBang                          // after "--!" in a comment
	sBogus                                // in a bogus comment, until ">"
	sPlaintext                            // after <plaintext>: text to the end
	sRaw                                  // in raw text or RCDATA (style, textarea, title…)
	sRawLT                                // after "<" in raw text
	sRawEnd                               // matching the raw end tag's name
	sRawEndDelim                          // after the raw end tag's name
	sScript                               // script data
	sScriptLT                             // after "<" in script data
	sScriptEscStart                       // after "<!" in script data
	sScriptEscStartDash                   // after "<!-" in script data
	sScriptEsc                            // script data escaped (after "<!--")
	sScriptEscDash                        // after "-" in escaped script data
	sScriptEscDashDash                    // after "--" in escaped script data
	sScriptEscLT                          // after "<" in escaped script data
	sScriptDblStart                       // matching "script" after "<" in escaped script data
	sScriptDblStartDelim                  // after "<script" in escaped script data
	sScriptDbl                            // script data double escaped
	sScriptDblDash                        // after "-" in double escaped script data
	sScriptDblDashDash                    // after "--" in double escaped script data
	sScriptDblLT                          // after "<" in double escaped script data
	sScriptDblEnd                         // matching "script" after "</" in double escaped script data
	sScriptDblEndDelim                    // after "</script" in double escaped script data
	sScriptEnd                            // matching "script" after "</" in script data
	sScriptEndDelim                       // after "</script" in script data
	sCDATAStart                           // matching "[CDATA[" after "<!" in foreign content
	sCDATA                                // in a CDATA section
)

// Tag names the scanner tells apart. Raw-text tags are those after which the
// tokenizer reads raw text or RCDATA until the matching end tag.
type tagKind uint8

const (
	tagOther tagKind = iota
	tagBody
	tagHTML
	tagScript
	tagPlaintext
	tagRaw  // iframe, noembed, noframes, noscript, style, textarea, title, xmp
	tagTree // svg, math, template, select, frameset: the stack sees them (tree.go)
	tagFmt  // a formatting element of up to eight bytes: the stack sees it, on the fast path too
)

// markerAttr marks a <script> tag as the widget's own snippet: a page that
// carries one before the insertion point does not get a second.
const markerAttr = "data-chatwidget"

// nameCap is long enough for every tag name and attribute name the scanner
// needs to recognise ("plaintext", "data-chatwidget") and every element name
// the stack tracks.
const nameCap = frameNameCap

// scanner is the resumable state of the search for the insertion point.
type scanner struct {
	lt       int64 // stream offset of the last "<" read as text
	state    scanState
	endTag   bool      // the tag being read is an end tag
	kind     tagKind   // the tag's kind, once its name is read
	rawName  string    // lower-case name whose end tag closes the raw text
	idx      int       // bytes of rawName (or "script") matched so far
	retState scanState // where a failed "</script" match in script data returns
	quote    byte      // the quote of a quoted attribute value
	dashes   int       // consecutive '-' in a comment
	begin    bool      // at the beginning of a comment's data
	keyFirst bool      // at the first byte of an attribute name
	n        int       // bytes in name
	name     [nameCap + 1]byte
	an       int      // bytes in key
	key      [16]byte // the attribute name being read, in a <script> start tag
	marker   bool     // the start tag carries markerAttr
	doc      bool     // a doctype, <html> or <body> start tag was read: the stream is a document
	cand     bool     // the end tag being read may be </body> or </html>

	// The tag's end, as the standard reads it.
	slash     bool // the last byte read in the tag was a "/" outside a value
	selfClose bool // the tag ended with "/>", the "/" outside a value
	valSlash  bool // the tag ended with "/>", the "/" an unquoted value's (x/net/html reads it as self-closing)
	attrs     bool // the start tag has an attribute

	// Tree construction (tree.go).
	frames     [maxDepth]frame
	depth      int
	stale      bool   // an active formatting element may be closed and due to be reopened
	scriptOff  bool   // scripting is off: noscript is markup (the injector's second scanner)
	inNoscript bool   // in a noscript element's raw text (scripting on)
	departed   bool   // in escaped script data after a "<" where x/net/html departs from the standard
	reason     string // why the scanner gave up
}

// tagName returns the name of the tag just read, lower-cased; a name longer
// than nameCap comes back longer than frameNameCap.
func (s *scanner) tagName() []byte {
	if s.n > nameCap {
		return s.name[:] // one byte longer than any name kept
	}
	return s.name[:s.n]
}

// A decider learns, once the injector knows, whether the stream is a
// document, and returns the snippet to insert (nil: none). It is called at
// most once, before the injector writes anything.
type decider interface {
	decide(document bool) []byte
}

// injector copies an HTML stream to w and inserts snippet once, at the point
// the tokenizer defines. It is not safe for concurrent use.
//
// With a decider, the injector first holds the stream back until it knows
// whether the stream is a document (a doctype, <html> or <body> start tag,
// or a </body> or </html> end tag) or a fragment (none of these in the first
// maxHold bytes, or by a Flush or the end), and only then asks for the
// snippet: a fragment costs no resolver call and keeps its headers.
type injector struct {
	w       io.Writer
	snippet []byte
	pending decider // non-nil until the kind of stream is known
	sc      scanner

	// enc is the page's encoding, as its Content-Type declares it and then
	// as its first bytes settle it (charset.go). While headNeed > 0, the
	// first bytes gather in head, up to headNeed of them, before anything
	// else is done with them.
	enc      encoding
	headNeed int
	head     []byte
	docKnown bool // the stream is a document whatever its first bytes (knownDocument)

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
}

// reset makes j ready for a new stream, keeping its buffers.
func (j *injector) reset(w io.Writer, snippet []byte) {
	hold, head, alt := j.hold[:0], j.head[:0], j.alt
	*j = injector{}
	j.w, j.snippet, j.hold, j.head, j.alt, j.tagStart, j.htmlAt = w, snippet, hold, head, alt, -1, -1
}

// resetPending makes j ready for a stream whose snippet d decides, and
// whose Content-Type declares the encoding enc (encUnknown: none). The
// first bytes settle the encoding before anything is decided: a byte order
// mark, which browsers obey over the header, and for a page that declares
// none the <meta> prescan. A page in an encoding the snippet may not go
// into passes through as a fragment would.
func (j *injector) resetPending(w io.Writer, d decider, enc encoding) {
	j.reset(w, nil)
	j.pending, j.enc, j.headNeed = d, enc, len("\xef\xbb\xbf")
	if enc == encUnknown {
		j.headNeed = prescanLen
	}
}

// knownDocument tells a pending injector that the stream is a document,
// whatever its first bytes say (a navigation's response is one): it asks
// for the snippet as soon as the encoding is settled, and may insert at the
// end even with no doctype, <html> or <body>.
func (j *injector) knownDocument() {
	j.docKnown, j.sc.doc = true, true
}

// writeHead gathers the first bytes of the stream in head until they settle
// the encoding, then writes them, and the rest of p, through Write.
func (j *injector) writeHead(p []byte) (int, error) {
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
func (j *injector) settleHead() error {
	j.headNeed = 0
	enc, bom := bomEncoding(j.head)
	switch {
	case bom:
		j.enc = enc
	case j.enc == encUnknown:
		j.enc = sniffEncoding(j.head)
	}
	switch {
	case j.enc == encOther:
		j.refused = "the page's encoding is not one the snippet may go into"
		j.commit(false)
		j.done = true
	case j.docKnown:
		j.commit(true)
	}
	_, err := j.Write(j.head)
	return err
}

// refusal says why the page gets no widget, if the injector gave up for
// want of a place where a browser would run it safely; "" otherwise.
func (j *injector) refusal() string { return j.refused }

// release drops what j holds of the stream it served, so that a pooled
// injector keeps no writer or page alive. It reports whether j's buffers
// are small enough to be worth keeping.
func (j *injector) release() (keep bool) {
	j.w, j.pending, j.err = nil, nil, nil
	return cap(j.hold) <= 2*maxHold
}

// encoding returns the page's encoding, once settled: encUnknown means
// that neither the header, a byte order mark nor a <meta> names one.
func (j *injector) encoding() encoding { return j.enc }

// commit asks the decider for the snippet, once the kind of stream is
// known. Without a snippet, the rest passes through.
func (j *injector) commit(document bool) {
	d := j.pending
	if d == nil {
		return
	}
	j.pending = nil
	if j.snippet = d.decide(document); j.snippet == nil {
		j.tagStart, j.htmlAt = -1, -1
		j.done = true
	}
}

// Write scans p for the insertion point and writes what precedes any
// possible insertion point to the underlying writer. It reports len(p) unless
// the underlying writer fails.
func (j *injector) Write(p []byte) (int, error) {
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
		i, ev = j.sc.scan(p, i, base)
		if j.altOn && !j.followAlt(p, base, i, ev) {
			ev = evGiveUp
		}
		if ev == evNone {
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
func (j *injector) passthrough(p []byte) (int, error) {
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
func (j *injector) settle(p []byte, base int64) {
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
func (j *injector) overdue(pos int64) int64 {
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
func (j *injector) pinned() int64 {
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
func (j *injector) emit(p []byte, base, upto int64) {
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

func (j *injector) write(b []byte) {
	if j.err != nil || len(b) == 0 {
		return
	}
	_, j.err = j.w.Write(b)
}

// insertAt writes everything before at, then the snippet, then the rest of
// what is held and of p (which ends at offset end), and passes the rest of
// the stream through.
func (j *injector) insertAt(p []byte, end, at int64) {
	base := end - int64(len(p))
	j.emit(p, base, at)
	j.write(j.snippet)
	j.emit(p, base, end)
	j.done = true
}

// handle acts on a scanner event found in p (which starts at offset base);
// pos is the offset just after the byte that raised it.
func (j *injector) handle(ev event, p []byte, base, pos int64) {
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
func (j *injector) followAlt(p []byte, base int64, i int, ev event) bool {
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
// no resolver is called for it.
func (j *injector) giveUp(p []byte, base, pos int64) {
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
// follows reaches the client now. A stream whose kind is not known yet is
// taken for a document if nothing was written (so that the headers go out);
// otherwise it stays held until a sign of a document, maxHold bytes or the
// end.
func (j *injector) Flush() error {
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
func (j *injector) Close() error {
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

// event is what the scanner reports to the injector.
type event uint8

const (
	evNone         event = iota
	evCandidate          // "</b" or "</h": a </body> or </html> end tag may begin at sc.lt
	evNotCandidate       // the tag of the last evCandidate is neither
	evNoscript           // a noscript start tag just closed, and its raw text begins (scripting on)
	evNoscriptEnd        // a </noscript> end tag just closed
	evGiveUp             // the scanner cannot follow the browser from here: sc.reason says why
	evDoc                // the first doctype, <html> or <body> start tag just ended; this and the next are signs of a document
	evBodyEnd            // a </body> end tag just closed
	evHTMLEnd            // a </html> end tag just closed
	evMarker             // a start tag carrying markerAttr just closed
)

// asciiLower lower-cases c if it is an ASCII upper-case letter.
func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// Character classes of the bytes that end names and values in a tag.
const (
	cSpace    = 1 << iota // HTML white space
	cTagDelim             // ends a tag name: space, '/', '>'
	cKeyDelim             // ends an attribute name: space, '/', '>', '='
	cValDelim             // ends an unquoted attribute value: space, '>'
)

var charClass = func() (t [256]uint8) {
	for _, c := range []byte(" \n\r\t\f") {
		t[c] = cSpace | cTagDelim | cKeyDelim | cValDelim
	}
	t['/'] = cTagDelim | cKeyDelim
	t['>'] = cTagDelim | cKeyDelim | cValDelim
	t['='] = cKeyDelim
	return t
}()

// Words of eight bytes, read little-endian so that the lowest byte comes
// first in the stream, let the tag loops test eight bytes at once: in a tag,
// runs of bytes that change nothing are short, and a loop that stops on one
// byte at a time mispredicts its exit at the end of each run.
const (
	lsb = 0x0101010101010101 // the low bit of each byte
	msb = 0x8080808080808080 // the high bit of each byte
)

// zeroBytes sets the high bit of each byte of x that may be zero. The lowest
// one set is exact; those above it may be false.
func zeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }

// tagSpecials sets the high bit of each byte of x that may end a name or an
// unquoted value in a tag: any byte below 0x21 (white space among them),
// '/', and '<' to '?' (for '=' and '>'). The lowest one set is exact for that
// set.
func tagSpecials(x uint64) uint64 {
	return ((x-0x21*lsb)&^x | zeroBytes(x^'/'*lsb) | zeroBytes(x|3*lsb^'?'*lsb)) & msb
}

// skipTo returns the index of the first byte of p at or after j whose
// class shares a bit with class, or len(p). The class must be made of
// cTagDelim, cKeyDelim and cValDelim, whose bytes tagSpecials flags.
func skipTo(p []byte, j int, class uint8) int {
	for j+8 <= len(p) {
		m := tagSpecials(binary.LittleEndian.Uint64(p[j:]))
		if m == 0 {
			j += 8
			continue
		}
		j += bits.TrailingZeros64(m) >> 3
		if charClass[p[j]]&class != 0 {
			return j
		}
		j++
	}
	for j < len(p) && charClass[p[j]]&class == 0 {
		j++
	}
	return j
}

// indexLT returns the index of the first '<' in p at or after i, or len(p).
// Text between tags is often short: it tests a word before it calls
// bytes.IndexByte.
func indexLT(p []byte, i int) int {
	if i+8 <= len(p) {
		if m := zeroBytes(binary.LittleEndian.Uint64(p[i:]) ^ '<'*lsb); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	if k := bytes.IndexByte(p[i:], '<'); k >= 0 {
		return i + k
	}
	return len(p)
}

// indexQuote returns the index of the first q in p at or after j, or
// len(p). Attribute values are short, so it tests words before it leaves
// long ones to bytes.IndexByte.
func indexQuote(p []byte, j int, q byte) int {
	pat := uint64(q) * lsb
	for lim := j + 32; j+8 <= len(p) && j < lim; j += 8 {
		if m := zeroBytes(binary.LittleEndian.Uint64(p[j:]) ^ pat); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	if k := bytes.IndexByte(p[j:], q); k >= 0 {
		return j + k
	}
	return len(p)
}

// Names of up to eight bytes as little-endian words: the name's first byte
// is the word's lowest, unused bytes are zero. A name read from the page is
// lower-cased by or-ing 0x20 into every byte, which lower-cases ASCII letters
// and turns no other byte into a lower-case letter, so its word equals one
// of these exactly when the names match case-insensitively.
const (
	wordXMP      = 'x' | 'm'<<8 | 'p'<<16
	wordHTML     = 'h' | 't'<<8 | 'm'<<16 | 'l'<<24
	wordBody     = 'b' | 'o'<<8 | 'd'<<16 | 'y'<<24
	wordStyle    = 's' | 't'<<8 | 'y'<<16 | 'l'<<24 | 'e'<<32
	wordTitle    = 't' | 'i'<<8 | 't'<<16 | 'l'<<24 | 'e'<<32
	wordScript   = 's' | 'c'<<8 | 'r'<<16 | 'i'<<24 | 'p'<<32 | 't'<<40
	wordIframe   = 'i' | 'f'<<8 | 'r'<<16 | 'a'<<24 | 'm'<<32 | 'e'<<40
	wordNoembed  = 'n' | 'o'<<8 | 'e'<<16 | 'm'<<24 | 'b'<<32 | 'e'<<40 | 'd'<<48
	wordNoframes = 'n' | 'o'<<8 | 'f'<<16 | 'r'<<24 | 'a'<<32 | 'm'<<40 | 'e'<<48 | 's'<<56
	wordNoscript = 'n' | 'o'<<8 | 's'<<16 | 'c'<<24 | 'r'<<32 | 'i'<<40 | 'p'<<48 | 't'<<56
	wordTextarea = 't' | 'e'<<8 | 'x'<<16 | 't'<<24 | 'a'<<32 | 'r'<<40 | 'e'<<48 | 'a'<<56
	wordSVG      = 's' | 'v'<<8 | 'g'<<16
	wordMath     = 'm' | 'a'<<8 | 't'<<16 | 'h'<<24
	wordTemplate = 't' | 'e'<<8 | 'm'<<16 | 'p'<<24 | 'l'<<32 | 'a'<<40 | 't'<<48 | 'e'<<56
	wordSelect   = 's' | 'e'<<8 | 'l'<<16 | 'e'<<24 | 'c'<<32 | 't'<<40
	wordFrameset = 'f' | 'r'<<8 | 'a'<<16 | 'm'<<24 | 'e'<<32 | 's'<<40 | 'e'<<48 | 't'<<56
	wordEm       = 'e' | 'm'<<8
	wordTT       = 't' | 't'<<8
	wordBig      = 'b' | 'i'<<8 | 'g'<<16
	wordCode     = 'c' | 'o'<<8 | 'd'<<16 | 'e'<<24
	wordFont     = 'f' | 'o'<<8 | 'n'<<16 | 't'<<24
	wordNobr     = 'n' | 'o'<<8 | 'b'<<16 | 'r'<<24
	wordSmall    = 's' | 'm'<<8 | 'a'<<16 | 'l'<<24 | 'l'<<32
	wordStrike   = 's' | 't'<<8 | 'r'<<16 | 'i'<<24 | 'k'<<32 | 'e'<<40
	wordStrong   = 's' | 't'<<8 | 'r'<<16 | 'o'<<24 | 'n'<<32 | 'g'<<40
)

// lowerWord returns the word of the n-byte name (1 <= n <= 8) at the start
// of the little-endian word x, lower-cased as the word constants above are.
func lowerWord(x uint64, n int) uint64 {
	return (x | 0x20*lsb) & (^uint64(0) >> (64 - 8*n))
}

// startTagKind returns the kind of the start tag whose name is the word w,
// and for a raw-text tag the name whose end tag closes the text. Plaintext,
// the only name longer than eight bytes that matters, is the caller's.
func startTagKind(w uint64) (tagKind, string) {
	switch w {
	case wordHTML:
		return tagHTML, ""
	case wordBody:
		return tagBody, ""
	case wordScript:
		return tagScript, ""
	case wordIframe:
		return tagRaw, "iframe"
	case wordNoembed:
		return tagRaw, "noembed"
	case wordNoframes:
		return tagRaw, "noframes"
	case wordNoscript:
		return tagRaw, "noscript"
	case wordStyle:
		return tagRaw, "style"
	case wordTextarea:
		return tagRaw, "textarea"
	case wordTitle:
		return tagRaw, "title"
	case wordXMP:
		return tagRaw, "xmp"
	case wordSVG, wordMath, wordTemplate, wordSelect, wordFrameset:
		return tagTree, ""
	case 'a', 'b', 'i', 's', 'u', wordEm, wordTT, wordBig, wordCode, wordFont,
		wordNobr, wordSmall, wordStrike, wordStrong:
		return tagFmt, ""
	}
	return tagOther, ""
}

// scriptAt reports whether p, which must hold at least eight bytes, begins
// with "script" in any case followed by a byte that ends a tag name.
func scriptAt(p []byte) bool {
	const n = len("script")
	return lowerWord(binary.LittleEndian.Uint64(p), n) == wordScript && isTagDelim(p[n])
}

// fastScriptTag reads the <script> start tag that may begin at p[lt]
// without saving any state, when it ends within p and cannot carry
// markerAttr, and then moves to script data. It returns the index just
// after the tag's '>', or lt to leave the tag to the resumable states.
func (s *scanner) fastScriptTag(p []byte, lt int) int {
	const name = len("<script")
	if lt+1+8 > len(p) || !scriptAt(p[lt+1:]) {
		return lt
	}
	e := lt + name + 1
	if p[lt+name] != '>' {
		if e = attrsEnd(p, lt, lt+name); e == lt || mayHoldMarker(p[lt:e]) {
			return lt
		}
	}
	s.state = sScript
	return e
}

// mayHoldMarker reports whether tag holds markerAttr in any case.
func mayHoldMarker(tag []byte) bool {
	const dash = len("data")
	for i := dash; i < len(tag); {
		k := bytes.IndexByte(tag[i:], '-')
		if k < 0 {
			return false
		}
		i += k
		if i+len(markerAttr)-dash <= len(tag) && bytes.EqualFold(tag[i-dash:i-dash+len(markerAttr)], []byte(markerAttr)) {
			return true
		}
		i++
	}
	return false
}

// fastScript reads script data from p[i] on, as the script states would,
// for as long as it meets no "<!" (which may begin an escape that the
// script states follow): it jumps between '<' bytes and reads the end tag
// with fastTag. It returns where it stopped, having set the state.
func (s *scanner) fastScript(p []byte, i int) int {
	for {
		k := bytes.IndexByte(p[i:], '<')
		if k < 0 {
			return len(p)
		}
		k += i
		if k+2+8 > len(p) || p[k+1] == '!' {
			return s.script(p, k)
		}
		if p[k+1] == '/' && scriptAt(p[k+2:]) {
			if e, _, _, _ := fastTag(p, k, false); e > k {
				s.state = sData
				return e
			}
			return s.script(p, k)
		}
		i = k + 1
	}
}

// fastTag reads the tag that begins at p[lt] == '<' without saving any
// state, when it is an ordinary start or end tag that ends within p and
// whose name is none the scanner must read through the resumable states:
// the common case, which it reads by jumping between quotes, '=' and '>'.
// It returns the index just after the tag's '>', or lt to leave the tag to
// the resumable states, and the tag's name as a word of l bytes (l > 8: a
// longer name, not in the word), with kind tagFmt for a formatting start
// tag, which the caller gives to the stack. With track, every name longer
// than eight bytes goes to the resumable states, which keep it.
//
// Between the tag's name and its end, a '>' ends the tag unless it is in a
// quoted value; a quote opens a value only as the first byte after an '='
// and optional white space; and an '=' ends an attribute name (so that a
// value follows) unless it is the first byte of a name, which is so when
// only white space or a '/' comes between it and the name, the quoted
// value or the unquoted value's white space before it.
func fastTag(p []byte, lt int, track bool) (e int, w uint64, l int, kind tagKind) {
	n := len(p)
	i := lt + 1
	if i < n && p[i] == '/' {
		i++
	}
	if i+8 > n || !isLetter(p[i]) {
		return lt, 0, 0, tagOther
	}
	// Most names end within the first word: the end and the name's word
	// come from one read, without a call.
	x := binary.LittleEndian.Uint64(p[i:])
	j := i + bits.TrailingZeros64(tagSpecials(x))>>3
	if j == i+8 || !isTagDelim(p[j]) {
		if j = skipTo(p, j, cTagDelim); j == n {
			return lt, 0, 0, tagOther
		}
	}
	if l = j - i; l > 8 {
		if track || l == len("plaintext") && i == lt+1 {
			return lt, 0, 0, tagOther
		}
	} else {
		w = lowerWord(x, l)
		if i > lt+1 {
			if w == wordBody || w == wordHTML {
				return lt, 0, 0, tagOther
			}
		} else if kind, _ = startTagKind(w); kind != tagOther && kind != tagFmt {
			return lt, 0, 0, tagOther
		}
	}
	if p[j] == '>' {
		return j + 1, w, l, kind
	}
	if e = attrsEnd(p, lt, j); e == lt {
		return lt, 0, 0, tagOther
	}
	return e, w, l, kind
}

// attrsEnd returns the index just after the '>' that ends the tag that
// begins at p[lt] and whose name ends at p[j], or lt if the tag does not end
// within p.
func attrsEnd(p []byte, lt, j int) int {
	n := len(p)
	// Outside values, only '=' and '>' matter: a quote there is part of a
	// name.
	k := indexEqGt(p, j)
	for from := j; ; {
		if k == n {
			return lt
		}
		if p[k] == '>' {
			return k + 1
		}
		j = k + 1
		if k == from || p[k-1] <= ' ' || p[k-1] == '/' { // not right after a name: look closer
			b := k
			for b > from && charClass[p[b-1]]&cSpace != 0 {
				b--
			}
			if b == from || p[b-1] == '/' {
				k = indexEqGt(p, j) // '=' begins a name
				continue
			}
		}
		for j < n && charClass[p[j]]&cSpace != 0 {
			j++
		}
		if j == n {
			return lt
		}
		switch c := p[j]; c {
		case '>':
			return j + 1
		case '"', '\'':
			// The next '=' or '>' is looked for beside the closing quote,
			// not after it: unless the value holds one, it is where the
			// loop goes on, and the two searches need not wait for each
			// other.
			var e int
			if j, e = quotedValue(p, j+1, c); j == n {
				return lt
			}
			from = j + 1
			if k = e; e < j {
				k = indexEqGt(p, from)
			}
		default:
			if j = skipTo(p, j+1, cValDelim); j == n {
				return lt
			}
			if p[j] == '>' {
				return j + 1
			}
			from = j + 1
			k = indexEqGt(p, from)
		}
	}
}

// quotedValue returns the index of the first q in p at or after j, and
// that of the first '=' or '>' at or after j; either is len(p) if there is
// none. Both come from the same words: the second is usually past the first,
// where the next attribute's '=' or the tag's '>' is.
func quotedValue(p []byte, j int, q byte) (end, eqGt int) {
	end, eqGt = -1, -1
	pat := uint64(q) * lsb
	for ; j+8 <= len(p); j += 8 {
		x := binary.LittleEndian.Uint64(p[j:])
		if end < 0 {
			if m := zeroBytes(x ^ pat); m != 0 {
				end = j + bits.TrailingZeros64(m)>>3
			}
		}
		if eqGt < 0 {
			for m := zeroBytes(x | 3*lsb ^ '?'*lsb); m != 0; m &= m - 1 { // '<' to '?'
				if k := j + bits.TrailingZeros64(m)>>3; p[k] == '=' || p[k] == '>' {
					eqGt = k
					break
				}
			}
		}
		if end >= 0 && eqGt >= 0 {
			return end, eqGt
		}
	}
	for ; j < len(p) && (end < 0 || eqGt < 0); j++ {
		if c := p[j]; c == q && end < 0 {
			end = j
		} else if (c == '=' || c == '>') && eqGt < 0 {
			eqGt = j
		}
	}
	if end < 0 {
		end = len(p)
	}
	if eqGt < 0 {
		eqGt = len(p)
	}
	return end, eqGt
}

// indexEqGt returns the index of the first '=' or '>' in p at or after j,
// or len(p).
func indexEqGt(p []byte, j int) int {
	for j+8 <= len(p) {
		m := zeroBytes(binary.LittleEndian.Uint64(p[j:]) | 3*lsb ^ '?'*lsb) // '<' to '?'
		if m == 0 {
			j += 8
			continue
		}
		j += bits.TrailingZeros64(m) >> 3
		if c := p[j]; c == '=' || c == '>' {
			return j
		}
		j++
	}
	for ; j < len(p); j++ {
		if c := p[j]; c == '=' || c == '>' {
			return j
		}
	}
	return j
}

// isTagDelim reports whether c ends a tag name.
func isTagDelim(c byte) bool { return charClass[c]&cTagDelim != 0 }

// scan advances through p from i and returns where it stopped and what it
// found. It stops after each event so the injector can act on it; otherwise
// it returns len(p).
// base is the stream offset of p[0].
func (s *scanner) scan(p []byte, i int, base int64) (int, event) {
outer:
	for i < len(p) {
		switch s.state {
		case sData:
			if s.tracking() && !s.fastRun() {
				k := indexLT(p, i)
				if k > i && s.textGivesUp() {
					return i, s.giveUp("text in an integration point where a formatting element may be reopened")
				}
				if i = k; i == len(p) {
					return i, evNone
				}
				s.lt = base + int64(i)
				s.state = sTagOpen
				i++
				continue
			}
			if i = indexLT(p, i); i == len(p) {
				return i, evNone
			}
			// fastTag reads most tags whole. The next '<' is
			// looked for from just after this one, so that the search need
			// not wait for the tag's end; it is right unless the tag holds
			// a '<' itself.
			for {
				next := indexLT(p, i+1)
				track := s.depth > 0
				e, w, l, kind := fastTag(p, i, track)
				if e == i {
					if !track {
						if e = s.fastScriptTag(p, i); e > i {
							i = e
							continue outer
						}
					}
					break
				}
				if track || kind == tagFmt {
					if ev := s.fastTree(w, l, p[i+1] == '/', kind); ev != evNone {
						return e, ev
					}
					if s.tracking() && !s.fastRun() {
						// An end tag (</template>) uncovered foreign
						// content or an integration point: the resumable
						// states read what follows.
						i = e
						continue outer
					}
				}
				if next < e {
					next = indexLT(p, e)
				}
				if i = next; i == len(p) {
					return i, evNone
				}
			}
			s.lt = base + int64(i)
			s.state = sTagOpen
			i++
		case sTagOpen:
			c := p[i]
			switch {
			case isLetter(c):
				s.startTag(false, c) // reconsume the letter as the name
			case c == '/':
				s.state = sEndTagOpen
				i++
			case c == '!':
				s.state = sMarkup0
				i++
			case c == '?':
				s.state = sBogus
				i++
			default:
				s.state = sData // reconsume: "<" was text
				if s.textGivesUp() {
					return i, s.giveUp("text in an integration point where a formatting element may be reopened")
				}
			}
		case sEndTagOpen:
			c := p[i]
			switch {
			case c == '>':
				s.state = sData // "</>" is an empty comment
				i++
			case isLetter(c):
				s.startTag(true, c) // reconsume the letter as the name
				if s.cand {
					return i, evCandidate
				}
			default:
				s.state = sBogus // reconsume: c is not '>'
			}
		case sTagName, sBeforeAttr, sAttrKey, sAfterKey, sBeforeValue, sQuoted, sUnquoted:
			var ev event
			if i, ev = s.tag(p, i); ev != evNone {
				return i, ev
			}
		case sMarkup0:
			switch {
			case p[i] == '-':
				s.state = sMarkup1
				i++
			case p[i] == '[' && s.cdata():
				if s.textGivesUp() {
					return i, s.giveUp("CDATA in an integration point where a formatting element may be reopened")
				}
				s.state, s.idx = sCDATAStart, 0 // reconsume
			default:
				s.state, s.idx = sDoctype, 0 // reconsume
			}
		case sCDATAStart:
			// Case-sensitive, unlike every other name here.
			const open = "[CDATA["
			for i < len(p) && s.state == sCDATAStart {
				if p[i] != open[s.idx] {
					s.state = sBogus // reconsume
					break
				}
				i++
				if s.idx++; s.idx == len(open) {
					s.state, s.dashes = sCDATA, 0
				}
			}
		case sCDATA:
			i = s.cdataSection(p, i)
		case sDoctype:
			// A doctype and a bogus comment both end at the first ">".
			if i = s.matchName(p, i, "doctype", sBogus, sBogus); s.idx == len("doctype") && !s.doc {
				s.doc = true
				return i, evDoc
			}
		case sMarkup1:
			if p[i] == '-' {
				s.state, s.dashes, s.begin = sComment, 0, true
				i++
			} else {
				s.state = sBogus // reconsume
			}
		case sComment:
			i = s.comment(p, i)
		case sCommentBang:
			c := p[i]
			i++
			s.begin = false
			switch c {
			case '>':
				s.state = sData
			case '-':
				s.state, s.dashes = sComment, 1
			default:
				s.state, s.dashes = sComment, 0
			}
		case sBogus:
			k := bytes.IndexByte(p[i:], '>')
			if k < 0 {
				return len(p), evNone
			}
			i += k + 1
			s.state = sData
		case sPlaintext:
			return len(p), evNone
		case sRaw:
			k := bytes.IndexByte(p[i:], '<')
			if k < 0 {
				return len(p), evNone
			}
			i += k + 1
			s.state = sRawLT
		case sRawLT:
			if p[i] == '/' {
				s.state, s.idx = sRawEnd, 0
				i++
			} else {
				s.state = sRaw // reconsume
			}
		case sRawEnd:
			i = s.matchName(p, i, s.rawName, sRawEndDelim, sRaw)
		case sRawEndDelim:
			if isTagDelim(p[i]) {
				s.rawEndTag(s.rawName) // reconsume the delimiter in the tag name state
			} else {
				s.state = sRaw // reconsume
			}
		case sScript:
			if s.tracking() {
				i = s.script(p, i)
			} else {
				i = s.fastScript(p, i)
			}
		default:
			if i = s.script(p, i); s.reason != "" {
				return i, evGiveUp
			}
		}
	}
	return i, evNone
}

// cdataSection reads a CDATA section's text up to its "]]>"; dashes counts
// the ']' just read.
func (s *scanner) cdataSection(p []byte, i int) int {
	for i < len(p) {
		if s.dashes == 0 {
			k := bytes.IndexByte(p[i:], ']')
			if k < 0 {
				return len(p)
			}
			i += k
		}
		c := p[i]
		i++
		switch {
		case c == ']':
			s.dashes++
		case c == '>' && s.dashes >= 2:
			s.state = sData
			return i
		default:
			s.dashes = 0
		}
	}
	return i
}

// tag reads a start or end tag, from its name to its ">", the way
// x/net/html's readTag does: a ">" ends the tag except inside a quoted
// attribute value, and a quote opens a value only right after "=". It runs
// the tag's states in one loop and saves the state only where p ends.
func (s *scanner) tag(p []byte, i int) (int, event) {
	n := len(p)
	switch s.state {
	case sBeforeAttr:
		goto beforeAttr
	case sAttrKey:
		goto attrKey
	case sAfterKey:
		goto afterKey
	case sBeforeValue:
		goto beforeValue
	case sQuoted:
		goto quoted
	case sUnquoted:
		goto unquoted
	}
	// sTagName
	{
		j := skipTo(p, i, cTagDelim)
		if s.n <= nameCap {
			s.appendName(p[i:j])
		}
		if s.cand && s.n > len("body") { // too long for body or html
			s.cand, s.state = false, sTagName
			return j, evNotCandidate
		}
		if j == n {
			s.state = sTagName
			return n, evNone
		}
		i = j
		if charClass[p[i]]&cSpace != 0 {
			i++
		}
		if ev := s.nameDone(); ev != evNone {
			s.state = sBeforeAttr
			return i, ev
		}
	}
beforeAttr:
	for i < n && charClass[p[i]]&cSpace != 0 {
		i++
		s.slash = false
	}
	if i == n {
		s.state = sBeforeAttr
		return n, evNone
	}
	if p[i] == '>' {
		s.selfClose = s.slash
		return i + 1, s.tagDone()
	}
	s.slash = false
	s.keyFirst, s.an = true, 0
attrKey:
	{
		j := i
		if s.keyFirst && p[j] == '=' {
			j++ // "=" that begins a name is part of it
		}
		s.keyFirst = false
		j = skipTo(p, j, cKeyDelim)
		if j > i {
			s.attrs = true
		}
		marker := s.kind == tagScript && !s.endTag
		if marker {
			s.appendKey(p[i:j])
		}
		if j == n {
			s.state = sAttrKey
			return n, evNone
		}
		i = j
		if marker && s.an == len(markerAttr) && string(s.key[:s.an]) == markerAttr {
			s.marker = true
		}
	}
afterKey:
	for i < n && charClass[p[i]]&cSpace != 0 {
		i++
	}
	if i == n {
		s.state = sAfterKey
		return n, evNone
	}
	switch p[i] {
	case '/':
		i++
		s.slash = true
		goto beforeAttr
	case '=':
		i++
	default:
		goto beforeAttr // read it again
	}
beforeValue:
	for i < n && charClass[p[i]]&cSpace != 0 {
		i++
	}
	if i == n {
		s.state = sBeforeValue
		return n, evNone
	}
	switch c := p[i]; c {
	case '>':
		goto beforeAttr // read it again
	case '"', '\'':
		s.quote = c
		i++
	default:
		s.slash = c == '/'
		i++
		goto unquoted
	}
quoted:
	if j := indexQuote(p, i, s.quote); j < n {
		i = j + 1
		goto beforeAttr
	}
	s.state = sQuoted
	return n, evNone
unquoted:
	if j := skipTo(p, i, cValDelim); j > i {
		s.slash = p[j-1] == '/'
		i = j
	}
	if i == n {
		s.state = sUnquoted
		return n, evNone
	}
	if p[i] == '>' {
		s.valSlash = s.slash // "/>" ends the tag, the "/" the value's
	} else {
		i++ // white space ends the value; ">" is read again
	}
	s.slash = false
	goto beforeAttr
}

// startTag begins a tag whose name starts with c, the next byte. Its name
// is kept only if c can begin a name the scanner looks for.
func (s *scanner) startTag(end bool, c byte) {
	s.state, s.endTag, s.kind, s.marker, s.cand = sTagName, end, tagOther, false, false
	s.slash, s.selfClose, s.valSlash, s.attrs = false, false, false, false
	s.n = 0
	if end && (c|0x20 == 'b' || c|0x20 == 'h') {
		s.cand = true
	}
}

// rawEndTag turns a recognised raw end tag into an ordinary end tag named
// name, which is not one the injector looks for.
func (s *scanner) rawEndTag(name string) {
	s.startTag(true, 0)
	s.n = copy(s.name[:], name)
	s.departed = false
}

// appendKey adds b, lower-cased, to the attribute name being read,
// remembering only that it is too long once it passes the buffer.
func (s *scanner) appendKey(b []byte) {
	if s.an+len(b) > len(s.key) {
		s.an = len(s.key) + 1
		return
	}
	for _, c := range b {
		s.key[s.an] = asciiLower(c)
		s.an++
	}
}

// appendName adds b, lower-cased, to the name being read, remembering only
// that it is too long once it passes nameCap.
func (s *scanner) appendName(b []byte) {
	if s.n+len(b) > nameCap {
		s.n = nameCap + 1
		return
	}
	for _, c := range b {
		s.name[s.n] = asciiLower(c)
		s.n++
	}
}

// nameIs reports whether the name read is want.
func (s *scanner) nameIs(want string) bool {
	return s.n == len(want) && string(s.name[:s.n]) == want
}

// nameDone classifies the tag whose name was just read. For an end tag
// that began as a candidate, it reports evNotCandidate unless the name is
// body or html.
func (s *scanner) nameDone() event {
	if s.endTag {
		if s.cand && s.n == len("body") {
			switch string(s.name[:4]) {
			case "body":
				s.kind = tagBody
				return evNone
			case "html":
				s.kind = tagHTML
				return evNone
			}
		}
		if s.cand {
			s.cand = false
			return evNotCandidate
		}
		return evNone
	}
	switch {
	case s.n >= 1 && s.n <= 8:
		s.kind, s.rawName = startTagKind(lowerWord(binary.LittleEndian.Uint64(s.name[:8]), s.n))
	case s.nameIs("plaintext"):
		s.kind = tagPlaintext
	}
	return evNone
}

// tagDone moves past a tag's closing ">".
func (s *scanner) tagDone() event {
	s.state = sData
	if s.endTag {
		ev := evNone
		switch s.kind {
		case tagBody:
			ev = evBodyEnd
		case tagHTML:
			ev = evHTMLEnd
		}
		if (s.inNoscript || s.scriptOff) && s.nameIs("noscript") {
			s.inNoscript = false
			ev = evNoscriptEnd
		}
		if s.depth > 0 {
			if g := s.treeEnd(); g != evNone {
				return g
			}
		}
		return ev
	}
	if s.depth > 0 || s.kind == tagTree || s.kind == tagFmt {
		html, ev := s.treeStart()
		if ev != evNone || !html {
			return ev
		}
	}
	switch s.kind {
	case tagHTML, tagBody:
		if !s.doc {
			s.doc = true
			return evDoc
		}
	case tagScript:
		s.state = sScript
		if s.marker && s.canInsert() {
			// The widget placed by hand, where it runs: not inside a
			// template, select or foreign content (an SVG script does
			// not load the vendor's src).
			return evMarker
		}
	case tagPlaintext:
		s.state = sPlaintext
	case tagRaw:
		if s.rawName == "noscript" {
			if s.scriptOff {
				break // markup
			}
			s.state, s.inNoscript = sRaw, true
			return evNoscript
		}
		s.state = sRaw
	}
	return evNone
}

// matchName matches name case-insensitively from s.idx on. When all of it
// matched it moves to next; at the first byte that differs it moves to fail
// and leaves that byte to be read again.
func (s *scanner) matchName(p []byte, i int, name string, next, fail scanState) int {
	for i < len(p) {
		if asciiLower(p[i]) != name[s.idx] {
			s.state = fail
			return i
		}
		i++
		s.idx++
		if s.idx == len(name) {
			s.state = next
			return i
		}
	}
	return i
}

// comment reads comment data; see readComment in x/net/html.
func (s *scanner) comment(p []byte, i int) int {
	for i < len(p) {
		if s.dashes == 0 && !s.begin {
			k := bytes.IndexByte(p[i:], '-')
			if k < 0 {
				return len(p)
			}
			i += k
		}
		c := p[i]
		i++
		switch c {
		case '-':
			s.dashes++
			continue
		case '>':
			if s.dashes >= 2 || s.begin {
				s.state = sData
				return i
			}
		case '!':
			if s.dashes >= 2 {
				s.state = sCommentBang
				return i
			}
		}
		s.dashes, s.begin = 0, false
	}
	return i
}

// script reads script data, with the escapes x/net/html's readScript follows.
// It handles one state change per call.
func (s *scanner) script(p []byte, i int) int {
	switch s.state {
	case sScript:
		k := bytes.IndexByte(p[i:], '<')
		if k < 0 {
			return len(p)
		}
		s.state = sScriptLT
		return i + k + 1
	case sScriptLT:
		switch p[i] {
		case '/':
			s.state, s.idx, s.retState = sScriptEnd, 0, sScript
			return i + 1
		case '!':
			s.state = sScriptEscStart
			return i + 1
		}
		s.state = sScript // reconsume
		return i
	case sScriptEnd:
		return s.matchName(p, i, "script", sScriptEndDelim, s.retState)
	case sScriptEndDelim:
		if isTagDelim(p[i]) {
			s.rawEndTag("script") // reconsume the delimiter in the tag name state
		} else {
			s.state = s.retState // reconsume
		}
		return i
	case sScriptEscStart:
		if p[i] == '-' {
			s.state = sScriptEscStartDash
			return i + 1
		}
		s.state = sScript
		return i
	case sScriptEscStartDash:
		if p[i] == '-' {
			s.state = sScriptEscDashDash
			return i + 1
		}
		s.state = sScript
		return i
	case sScriptEsc:
		for ; i < len(p); i++ {
			if c := p[i]; c == '-' || c == '<' {
				s.state = sScriptEscDash
				if c == '<' {
					s.state = sScriptEscLT
				}
				return i + 1
			}
		}
		return i
	case sScriptEscDash, sScriptEscDashDash:
		switch c := p[i]; {
		case c == '-':
			s.state = sScriptEscDashDash
		case c == '<':
			s.state = sScriptEscLT
		case c == '>' && s.state == sScriptEscDashDash:
			s.state, s.departed = sScript, false
		default:
			s.state = sScriptEsc
		}
		return i + 1
	case sScriptEscLT:
		switch c := p[i]; {
		case c == '/':
			s.state, s.idx, s.retState = sScriptEnd, 0, sScriptEsc
			return i + 1
		case isLetter(c):
			s.state, s.idx = sScriptDblStart, 0 // reconsume the letter
		default:
			// The standard stays in escaped script data here, and a later
			// "<script" then begins double-escaped data; x/net/html returns
			// to script data, where "<script" means nothing. The two agree
			// again after "-->" or "</script".
			s.state, s.departed = sScriptEsc, true // reconsume
		}
		return i
	case sScriptDblStart:
		return s.matchName(p, i, "script", sScriptDblStartDelim, sScriptEsc)
	case sScriptDblStartDelim:
		if isTagDelim(p[i]) {
			if s.departed {
				s.giveUp("<script in escaped script data, after a < where x/net/html departs from the standard")
			}
			s.state = sScriptDbl
			return i + 1
		}
		s.state = sScriptEsc // reconsume
		return i
	case sScriptDbl:
		for ; i < len(p); i++ {
			if c := p[i]; c == '-' || c == '<' {
				s.state = sScriptDblDash
				if c == '<' {
					s.state = sScriptDblLT
				}
				return i + 1
			}
		}
		return i
	case sScriptDblDash, sScriptDblDashDash:
		switch c := p[i]; {
		case c == '-':
			s.state = sScriptDblDashDash
		case c == '<':
			s.state = sScriptDblLT
		case c == '>' && s.state == sScriptDblDashDash:
			s.state = sScript
		default:
			s.state = sScriptDbl
		}
		return i + 1
	case sScriptDblLT:
		if p[i] == '/' {
			s.state, s.idx = sScriptDblEnd, 0
			return i + 1
		}
		s.state = sScriptDbl // reconsume
		return i
	case sScriptDblEnd:
		return s.matchName(p, i, "script", sScriptDblEndDelim, sScriptDbl)
	case sScriptDblEndDelim:
		if isTagDelim(p[i]) {
			s.state = sScriptEsc
			return i + 1
		}
		s.state = sScriptDbl // reconsume
		return i
	}
	panic("chatwidget: unknown scanner state")
}
