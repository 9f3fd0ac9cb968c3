package rewrite

import (
	"bytes"
	"encoding/binary"
)

// This file is the resumable scanner: the few states of the HTML tokenizer
// that decide where tags, comments and raw text begin and end, kept across
// writes, and the events it reports to the injector. In text, unless the
// stack must see every tag (in foreign content, an integration point, or
// with scripting off), scan hands each tag to the fast paths first
// (fast.go): they read it whole or leave it, untouched, to the states here.

// scanState is where the scanner stands, named after the x/net/html
// tokenizer's (and the HTML standard's) states it mirrors.
type scanState uint8

const (
	sData               scanState = iota // text, between tags
	sTagOpen                             // after "<"
	sEndTagOpen                          // after "</"
	sTagName                             // in a start or end tag's name
	sBeforeAttr                          // in a tag, before an attribute or ">"
	sAttrKey                             // in an attribute name
	sAfterKey                            // after an attribute name
	sBeforeValue                         // after "="
	sQuoted                              // in a quoted attribute value
	sUnquoted                            // in an unquoted attribute value
	sMarkup0                             // after "<!"
	sMarkup1                             // after "<!-"
	sDoctype                             // matching "doctype" after "<!"
	sComment                             // in "<!--" ... "-->"
	sCommentBang                         // after "--!" in a comment
	sBogus                               // in a bogus comment, until ">"
	sPlaintext                           // after <plaintext>: text to the end
	sRaw                                 // in raw text or RCDATA (style, textarea, title…)
	sRawLT                               // after "<" in raw text
	sRawEnd                              // matching the raw end tag's name
	sRawEndDelim                         // after the raw end tag's name
	sScript                              // script data
	sScriptLT                            // after "<" in script data
	sScriptEscStart                      // matching "--" after "<!" in script data
	sScriptEsc                           // script data escaped (after "<!--"), or double escaped if dbl
	sScriptEscDash                       // after "-" in (double) escaped script data
	sScriptEscDashDash                   // after "--" in (double) escaped script data
	sScriptEscLT                         // after "<" in (double) escaped script data
	sScriptDblName                       // matching "script" after "<" in escaped data, or "</" in double escaped data
	sScriptDblNameDelim                  // after that "script": a delimiter switches between escaped and double escaped
	sScriptEnd                           // matching "script" after "</" in script data
	sScriptEndDelim                      // after "</script" in script data
	sCDATAStart                          // matching "[CDATA[" after "<!" in foreign content
	sCDATA                               // in a CDATA section
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
	idx      int       // bytes matched so far of the word being matched (rawName, "script", "--", "doctype", "[CDATA[")
	retState scanState // where a failed "</script" match in script data returns
	dbl      bool      // the escaped script states read double-escaped data (from "<script" to "</script" or "-->")
	quote    byte      // the quote of a quoted attribute value
	dashes   int       // consecutive '-' in a comment
	begin    bool      // at the beginning of a comment's data
	keyFirst bool      // at the first byte of an attribute name
	n        int       // bytes in name
	name     [nameCap + 1]byte
	an       int      // bytes in key
	key      [16]byte // the attribute name being read, in a <script> start tag
	marker   bool     // the start tag carries MarkerAttr
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

	// The head: until bodied, a <meta> start tag outside template contents
	// would be a child of the head element, where a browser obeys its
	// http-equiv Content-Security-Policy. The scanner reads these bytes
	// with the resumable states, and raises evMeta after the name of such
	// a <meta> and evMetaEnd at its end.
	bodied  bool // a start tag, end tag or text that begins the body was read
	metaTag bool // in the head's <meta> start tag
}

// tagName returns the name of the tag just read, lower-cased; a name longer
// than nameCap comes back longer than frameNameCap.
func (s *scanner) tagName() []byte {
	if s.n > nameCap {
		return s.name[:] // one byte longer than any name kept
	}
	return s.name[:s.n]
}

// event is what the scanner reports to the injector.
type event uint8

const (
	evNone         event = iota
	evCandidate          // "</b" or "</h": a </body> or </html> end tag may begin at sc.lt
	evNotCandidate       // the tag of the last evCandidate is neither
	evNoscript           // a noscript start tag just closed, and its raw text begins (scripting on)
	evNoscriptEnd        // a </noscript> end tag just closed
	evMeta               // the name of a <meta> start tag in the head was just read
	evMetaEnd            // that <meta> start tag just closed
	evGiveUp             // the scanner cannot follow the browser from here: sc.reason says why
	evDoc                // the first doctype, <html> or <body> start tag just ended; this and the next are signs of a document
	evBodyEnd            // a </body> end tag just closed
	evHTMLEnd            // a </html> end tag just closed
	evMarker             // a start tag carrying MarkerAttr just closed
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
			if !s.bodied && !s.tracking() {
				// In the head, any text but white space begins the body.
				k := indexLT(p, i)
				if !htmlSpaceOnly(p[i:k]) {
					s.bodied = true
				}
				if i = k; i == len(p) {
					return i, evNone
				}
				s.lt = base + int64(i)
				s.state = sTagOpen
				i++
				continue
			}
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
				if s.depth == 0 {
					s.bodied = true
				}
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
		if marker && s.an == len(MarkerAttr) && string(s.key[:s.an]) == MarkerAttr {
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
	if !s.bodied && s.depth == 0 && !s.scriptOff {
		if ev := s.headTag(); ev != evNone {
			return ev
		}
	}
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

// headTag follows the head for a tag whose name was just read: a start
// tag that a browser puts into the body (any but those the "in head"
// insertion mode takes, or html and head), or a </body>, </html> or </br>
// end tag, begins the body; a <meta> start tag raises evMeta.
func (s *scanner) headTag() event {
	if s.endTag {
		switch string(s.tagName()) {
		case "body", "html", "br":
			s.bodied = true
		}
		return evNone
	}
	switch string(s.tagName()) {
	case "meta":
		s.metaTag = true
		return evMeta
	case "html", "head", "base", "basefont", "bgsound", "link", "noframes", "script", "style", "template", "title", "noscript":
	default:
		s.bodied = true
	}
	return evNone
}

// htmlSpaceOnly reports whether b holds only HTML white space.
func htmlSpaceOnly(b []byte) bool {
	for _, c := range b {
		if charClass[c]&cSpace == 0 {
			return false
		}
	}
	return true
}

// tagDone moves past a tag's closing ">".
func (s *scanner) tagDone() event {
	s.state = sData
	if s.metaTag {
		s.metaTag = false
		return evMetaEnd
	}
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
			s.state, s.idx = sScriptEscStart, 0
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
		return s.matchName(p, i, "--", sScriptEscDashDash, sScript) // "<!--" escapes script data
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
			s.state, s.dbl, s.departed = sScript, false, false
		default:
			s.state = sScriptEsc
		}
		return i + 1
	case sScriptEscLT:
		switch c := p[i]; {
		case c == '/' && s.dbl:
			s.state, s.idx = sScriptDblName, 0 // "</script" ends double escaping
			return i + 1
		case c == '/':
			s.state, s.idx, s.retState = sScriptEnd, 0, sScriptEsc
			return i + 1
		case s.dbl:
			s.state = sScriptEsc // reconsume
		case isLetter(c):
			s.state, s.idx = sScriptDblName, 0 // reconsume the letter: "<script" may begin double escaping
		default:
			// The standard stays in escaped script data here, and a later
			// "<script" then begins double-escaped data; x/net/html returns
			// to script data, where "<script" means nothing. The two agree
			// again after "-->" or "</script".
			s.state, s.departed = sScriptEsc, true // reconsume
		}
		return i
	case sScriptDblName:
		return s.matchName(p, i, "script", sScriptDblNameDelim, sScriptEsc)
	case sScriptDblNameDelim:
		if !isTagDelim(p[i]) {
			s.state = sScriptEsc // reconsume
			return i
		}
		if !s.dbl && s.departed {
			s.giveUp("<script in escaped script data, after a < where x/net/html departs from the standard")
		}
		s.state, s.dbl = sScriptEsc, !s.dbl
		return i + 1
	}
	panic("rewrite: unknown scanner state")
}
