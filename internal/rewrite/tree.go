package rewrite

import "encoding/binary"

// This file follows the few pieces of the HTML standard's tree construction
// that change how a browser reads later bytes, or whether a script there
// runs: foreign content (svg, math) with its integration points and
// breakouts, template contents, select, frameset, and the active formatting
// elements that may be reopened inside an integration point. The tokenizer
// alone (x/net/html's Tokenizer, or the scanner's states) reads
// <svg><style> as raw text; a browser reads it as markup.
//
// The scanner keeps a bounded stack of the open elements that matter, a
// suffix of the browser's stack of open elements:
//   - every foreign element (svg, math and their descendants);
//   - template and select elements;
//   - HTML elements inside an integration point, so that the scanner knows
//     whether the current node is the integration point (whose end tag
//     closes it) or an HTML element in it (which makes the browser ignore
//     that end tag);
//   - a "formatting run": an open HTML formatting element (a, b, em, …) and
//     what is opened inside it, so that the scanner knows whether one was
//     popped by anything but its own end tag. Such an element stays in the
//     browser's list of active formatting elements and is reopened by the
//     next text or start tag: inside an integration point, that makes the
//     current node an HTML element where the scanner would see the
//     integration point.
//
// Where the model cannot follow the browser exactly, the scanner gives up
// (evGiveUp) and the page gets no widget: nesting deeper than maxDepth, a
// name longer than frameNameCap in foreign content, an end tag in foreign
// content that may close an HTML element the scanner does not track, a
// raw-text start tag inside select, any frameset, markup inside an
// integration point that the model does not follow (closers, or any
// content while an active formatting element may need reopening), and the
// places where x/net/html departs from the standard (see README, "Where
// x/net/html departs from browsers").

// frameKind is what an open element on the scanner's stack is.
type frameKind uint8

const (
	fHTML     frameKind = iota // an HTML element inside a formatting run or an integration point
	fFmt                       // an HTML formatting element: a, b, big, code, em, font, i, nobr, s, small, strike, strong, tt, u
	fTemplate                  // an HTML template element
	fSelect                    // an HTML select element
	fForeign                   // an SVG or MathML element that is no integration point
	fHTMLIP                    // an HTML integration point: svg foreignObject, desc, title; annotation-xml as HTML
	fMathText                  // a MathML text integration point: mi, mo, mn, ms, mtext
)

// foreign reports whether an element of kind k is in the SVG or MathML
// namespace.
func (k frameKind) foreign() bool { return k >= fForeign }

// htmlElement reports whether k is an HTML element that a formatting run or
// an integration point tracks.
func (k frameKind) htmlElement() bool { return k <= fFmt }

// ip reports whether k is an integration point.
func (k frameKind) ip() bool { return k == fHTMLIP || k == fMathText }

const (
	// maxDepth bounds the open elements the scanner tracks; past it, it
	// gives up.
	maxDepth = 32
	// frameNameCap bounds the names of the elements the scanner tracks: it
	// holds every SVG and MathML element name ("fecomponenttransfer" has
	// 19 bytes). A longer name in foreign content makes the scanner give up.
	frameNameCap = 24
)

// frame is an open element.
type frame struct {
	kind  frameKind
	math  bool // in the MathML namespace (for foreign kinds)
	fresh bool // a template whose contents have had no start tag that sets their insertion mode
	n     uint8
	name  [frameNameCap]byte // lower-case, as the tokenizer gives it
}

func (f *frame) is(name []byte) bool {
	return int(f.n) == len(name) && string(f.name[:f.n]) == string(name)
}

// Element classes, from the HTML standard's "in body" and "in foreign
// content" rules.
const (
	clVoid       = 1 << iota // no end tag: never pushed
	clFormatting             // a formatting element
	clBreakout               // ends foreign content (font only with color, face or size)
	clCloser                 // in body, may pop or move other open elements, or is ignored
)

var elementClass = func() map[string]uint8 {
	m := map[string]uint8{}
	add := func(class uint8, names ...string) {
		for _, n := range names {
			m[n] |= class
		}
	}
	add(clVoid, "area", "base", "basefont", "bgsound", "br", "embed", "hr", "image", "img",
		"input", "keygen", "link", "meta", "param", "source", "track", "wbr")
	add(clFormatting, "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small",
		"strike", "strong", "tt", "u")
	add(clBreakout, "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div",
		"dl", "dt", "em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i",
		"img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s",
		"small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var")
	// Start tags that may close a p, an li, a button, an option, …, set a
	// marker, clear a table context, or are ignored in body (and so must
	// not be pushed), and the formatting elements with adoption-agency
	// rules of their own (a, nobr: see startHTML).
	add(clCloser, "address", "article", "aside", "blockquote", "center", "details", "dialog",
		"dir", "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup",
		"main", "menu", "nav", "ol", "p", "search", "section", "summary", "ul",
		"h1", "h2", "h3", "h4", "h5", "h6", "pre", "listing", "form", "li", "dd", "dt",
		"plaintext", "button", "applet", "marquee", "object", "table", "hr", "xmp",
		"option", "optgroup", "rb", "rp", "rt", "rtc", "caption", "col", "colgroup", "frame",
		"head", "tbody", "td", "tfoot", "th", "thead", "tr", "body", "html")
	return m
}()

// treeStart applies a start tag, whose name the scanner read, to the stack.
// It reports whether the tag was processed by the HTML rules (so that a
// raw-text tag switches the tokenizer), or evGiveUp.
func (s *scanner) treeStart() (html bool, ev event) {
	name := s.tagName()
	top := s.top()
	switch {
	case top == nil || !top.kind.foreign():
	case top.kind == fHTMLIP:
	case top.kind == fMathText && string(name) != "mglyph" && string(name) != "malignmark":
	case top.math && top.is([]byte("annotation-xml")) && string(name) == "svg":
	default:
		return s.startForeign(name)
	}
	return true, s.startHTML(name)
}

// startForeign applies a start tag read in foreign content: a breakout tag
// ends the foreign content and is read again as HTML; any other is a
// foreign element, in the namespace of the current node.
func (s *scanner) startForeign(name []byte) (bool, event) {
	class := elementClass[string(name)]
	if string(name) == "font" && s.attrs {
		return false, s.giveUp("a font start tag with attributes in foreign content")
	}
	if class&clBreakout != 0 {
		for s.depth > 0 && s.frames[s.depth-1].kind == fForeign {
			s.depth--
		}
		return s.treeStart()
	}
	if s.valSlash {
		// x/net/html reads "<path d=x/>" as self-closing; the standard
		// reads the "/" as the value's.
		return false, s.giveUp("a start tag in foreign content whose unquoted value ends in /")
	}
	if s.selfClose {
		return false, evNone // acknowledged: never open
	}
	top := s.top()
	kind := fForeign
	switch {
	case !top.math:
		switch string(name) {
		case "foreignobject", "desc", "title":
			kind = fHTMLIP
		}
	case string(name) == "annotation-xml" && s.attrs:
		// An encoding of text/html or application/xhtml+xml would make it
		// an integration point; the scanner does not read values.
		return false, s.giveUp("an annotation-xml start tag with attributes")
	default:
		switch string(name) {
		case "mi", "mo", "mn", "ms", "mtext":
			kind = fMathText
		}
	}
	return false, s.push(kind, top.math, name)
}

// startHTML applies a start tag processed by the HTML rules.
func (s *scanner) startHTML(name []byte) event {
	b := s.boundary()
	region := fHTML // the body: nothing is tracked below the stack
	if b >= 0 {
		region = s.frames[b].kind
	}
	inIP := region.ip()
	if inIP && s.stale {
		return s.giveUp("markup in an integration point where a formatting element may be reopened")
	}
	if top := s.top(); top != nil && top.fresh {
		// The first start tag in template contents sets their insertion
		// mode. After a <col> or <colgroup> there ("in column group", with
		// the template as current node) a browser ignores every other
		// start tag, raw-text ones included.
		switch string(name) {
		case "base", "basefont", "bgsound", "link", "meta", "noframes", "script", "style", "template", "title":
		case "col", "colgroup":
			return s.giveUp("a col or colgroup start tag first in template contents")
		default:
			top.fresh = false
		}
	}
	switch string(name) {
	case "frameset":
		return s.giveUp("a frameset")
	case "svg", "math":
		if region == fSelect {
			return s.giveUp("svg or math in select")
		}
		if s.valSlash {
			// x/net/html reads "<svg a=b/>" as self-closing; the standard
			// reads the "/" as the value's.
			return s.giveUp("an svg or math start tag whose unquoted value ends in /")
		}
		if s.selfClose {
			return evNone // acknowledged: opened and closed at once
		}
		return s.push(fForeign, string(name) == "math", name)
	case "template":
		if inIP {
			// x/net/html loses its way after a template in an
			// integration point (the rest of the page vanishes from its
			// tree): the two judges would disagree.
			return s.giveUp("a template in an integration point")
		}
		return s.push(fTemplate, false, name) // a marker: what it holds is apart
	case "select":
		if region == fSelect || inIP {
			return s.giveUp("select in select or in an integration point")
		}
		return s.push(fSelect, false, name)
	}
	if region == fSelect && (s.kind == tagRaw || s.kind == tagPlaintext) {
		// Browsers ignore most start tags in select (and newer ones parse
		// it otherwise): what follows may be markup or raw text.
		return s.giveUp("a raw-text start tag in select")
	}
	class := elementClass[string(name)]
	tracked := inIP || s.run() && !s.stale
	switch {
	case inIP && s.closesInIP(name, class):
		// Before the void elements: <hr> closes a <p>.
		return s.giveUp("a start tag in an integration point that may close or move elements")
	case class&clCloser != 0 || (string(name) == "a" || string(name) == "nobr") && s.runHas(name):
		if inIP {
			break // closes nothing there (closesInIP); pushed below
		}
		if tracked {
			s.spoil()
		}
		return evNone
	}
	switch {
	case class&clVoid != 0:
		return evNone
	case inIP:
		if class&clFormatting != 0 {
			return s.push(fFmt, false, name)
		}
		return s.push(fHTML, false, name)
	case class&clFormatting != 0:
		if region == fSelect {
			s.spoil()
			return evNone
		}
		if s.stale && !inIP {
			return evNone
		}
		return s.push(fFmt, false, name)
	case tracked:
		return s.push(fHTML, false, name)
	}
	return evNone
}

// closesInIP reports whether a start tag named name, of class class, may
// close, move or hide elements inside an integration point, where the
// scanner follows only what opens and closes in order. The integration
// point is special and a scope boundary: "close a p element", and the li,
// dd, dt, button, heading, option and ruby rules, stop there and close
// nothing unless an element they close is open inside it.
func (s *scanner) closesInIP(name []byte, class uint8) bool {
	switch string(name) {
	case "table", "caption", "col", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr",
		"form", "body", "html", "head", "frame", "applet", "marquee", "object":
		return true
	case "a":
		for k := range s.depth {
			if s.frames[k].is(name) {
				return true
			}
		}
		return false
	}
	if class&clCloser == 0 && string(name) != "nobr" {
		return false
	}
	for k := s.depth - 1; k > s.boundary(); k-- {
		switch string(s.frames[k].name[:s.frames[k].n]) {
		case "p", "li", "dd", "dt", "button", "h1", "h2", "h3", "h4", "h5", "h6",
			"option", "optgroup", "ruby", "rb", "rp", "rt", "rtc", "nobr":
			return true
		}
	}
	return false
}

// tableEnd reports whether an end tag named name is one that the table
// insertion modes look for in table scope, which only html, table and
// template bound: integration points do not stop it.
func tableEnd(name []byte) bool {
	switch string(name) {
	case "table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption", "colgroup":
		return true
	}
	return false
}

// svgCamelCase holds the SVG element names that the standard writes in
// camel case (foreignObject, clipPath, …), lower-cased as the tokenizer
// gives them.
var svgCamelCase = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"altglyph", "altglyphdef", "altglyphitem", "animatecolor",
		"animatemotion", "animatetransform", "clippath", "feblend", "fecolormatrix",
		"fecomponenttransfer", "fecomposite", "feconvolvematrix", "fediffuselighting",
		"fedisplacementmap", "fedistantlight", "fedropshadow", "feflood", "fefunca", "fefuncb",
		"fefuncg", "fefuncr", "fegaussianblur", "feimage", "femerge", "femergenode",
		"femorphology", "feoffset", "fepointlight", "fespecularlighting", "fespotlight",
		"fetile", "feturbulence", "foreignobject", "glyphref", "lineargradient",
		"radialgradient", "textpath"} {
		m[n] = true
	}
	return m
}()

// treeEnd applies an end tag, whose name the scanner read, to the stack.
func (s *scanner) treeEnd() event {
	name := s.tagName()
	top := s.top()
	if top == nil {
		return evNone
	}
	if top.kind.foreign() {
		return s.endForeign(name)
	}
	return s.endHTML(name)
}

// endForeign applies an end tag read while the current node is foreign.
func (s *scanner) endForeign(name []byte) event {
	if string(name) == "p" || string(name) == "br" {
		// The standard breaks out of foreign content here; x/net/html
		// does not.
		return s.giveUp("a </p> or </br> end tag in foreign content")
	}
	if tableEnd(name) {
		return s.giveUp("a table end tag in foreign content")
	}
	ipPassed := false
	svgTop := !s.top().math
	for k := s.depth - 1; k >= 0; k-- {
		f := &s.frames[k]
		if !f.kind.foreign() {
			return s.endBelowForeign(name, k, ipPassed)
		}
		if f.is(name) {
			if svgCamelCase[string(name)] && svgTop == f.math {
				// Chromium gives an end tag its SVG camel case only when
				// the current node is SVG, and then compares names
				// exactly: </foreignObject> under MathML, or </clipPath>
				// for a MathML clippath under SVG, matches nothing there.
				return s.giveUp("an end tag in foreign content whose SVG camel case Chromium matches otherwise")
			}
			s.depth = k
			return evNone
		}
		// annotation-xml is special and a scope boundary, whatever its
		// encoding.
		ipPassed = ipPassed || f.kind.ip() || f.math && f.is([]byte("annotation-xml"))
	}
	return s.endBelowForeign(name, -1, ipPassed)
}

// endBelowForeign applies, by the HTML rules, an end tag that no foreign
// element on the stack matched; k is the HTML frame below them, or -1 for
// the untracked elements below the stack.
func (s *scanner) endBelowForeign(name []byte, k int, ipPassed bool) event {
	switch string(name) {
	case "template":
		s.popTo(fTemplate)
		return evNone
	case "body", "html":
		return evNone // no element is popped
	case "form":
		// The form element pointer's end tag removes the form alone.
		return s.giveUp("a </form> end tag in foreign content")
	}
	if ipPassed {
		return evNone // an integration point is special and a scope boundary
	}
	if k >= 0 && s.frames[k].kind.htmlElement() && s.frames[k].is(name) {
		s.depth = k // a formatting run or integration point tracks all it holds
		return evNone
	}
	// Below a template or the stack, elements the scanner does not track
	// may be open between it and the foreign content: the end tag may
	// close one of them, and the foreign content with it.
	return s.giveUp("an end tag in foreign content that may close an element the scanner does not track")
}

// endHTML applies an end tag read while the current node is an HTML
// element on the stack.
func (s *scanner) endHTML(name []byte) event {
	switch string(name) {
	case "template":
		s.popTo(fTemplate)
		return evNone
	case "select":
		// In template contents inside a select, the end tag is ignored.
		if k := s.innermost(fTemplate, fSelect); k >= 0 && s.frames[k].kind == fSelect {
			s.depth = k
		}
		return evNone
	case "body", "html", "br":
		return evNone // no element is popped
	}
	top := s.top()
	if !top.kind.htmlElement() {
		return evNone // in template or select: their elements are not tracked
	}
	if top.is(name) {
		s.depth--
		return evNone
	}
	if s.inIP() && tableEnd(name) {
		// In a table mode these stop only at html, table and template,
		// not at the integration point.
		return s.giveUp("a table end tag in an integration point")
	}
	b := s.boundary()
	for k := s.depth - 2; k > b; k-- {
		if s.frames[k].is(name) {
			if s.inIP() {
				return s.giveUp("a misnested end tag in an integration point")
			}
			s.spoil()
			return evNone
		}
	}
	if s.inIP() {
		// In body, an end tag that matches no element above it stops at
		// the integration point, which is special and a scope boundary.
		return evNone
	}
	s.spoil() // it may close an element below the formatting run
	return evNone
}

// giveUp records why the scanner stops and returns evGiveUp.
func (s *scanner) giveUp(reason string) event {
	s.reason = reason
	return evGiveUp
}

// push opens an element.
func (s *scanner) push(kind frameKind, math bool, name []byte) event {
	if s.depth == maxDepth {
		return s.giveUp("elements nested too deep to follow")
	}
	if len(name) > frameNameCap {
		if !kind.foreign() && !s.inIP() {
			s.spoil()
			return evNone
		}
		return s.giveUp("an element name too long to follow")
	}
	f := &s.frames[s.depth]
	f.kind, f.math, f.fresh, f.n = kind, math, kind == fTemplate, uint8(copy(f.name[:], name))
	s.depth++
	return evNone
}

// spoil records that a formatting element may have been popped by something
// other than its own end tag (or that the scanner cannot tell), and stops
// tracking the formatting run.
func (s *scanner) spoil() {
	s.stale = true
	for s.depth > 0 && s.frames[s.depth-1].kind.htmlElement() {
		s.depth--
	}
}

// top returns the current node, or nil if the stack is empty.
func (s *scanner) top() *frame {
	if s.depth == 0 {
		return nil
	}
	return &s.frames[s.depth-1]
}

// boundary returns the index of the innermost frame that is not an HTML
// element of a formatting run or integration point, or -1.
func (s *scanner) boundary() int {
	k := s.depth - 1
	for k >= 0 && s.frames[k].kind.htmlElement() {
		k--
	}
	return k
}

// run reports whether the current node is an HTML element of a formatting
// run or integration point.
func (s *scanner) run() bool { return s.depth > 0 && s.frames[s.depth-1].kind.htmlElement() }

// runHas reports whether an HTML element named name is open above the
// boundary.
func (s *scanner) runHas(name []byte) bool {
	for k := s.depth - 1; k > s.boundary(); k-- {
		if s.frames[k].is(name) {
			return true
		}
	}
	return false
}

// inIP reports whether the current node is an integration point or an HTML
// element inside one.
func (s *scanner) inIP() bool {
	b := s.boundary()
	return b >= 0 && s.frames[b].kind.ip()
}

// innermost returns the index of the innermost open element of kind a or b,
// or -1.
func (s *scanner) innermost(a, b frameKind) int {
	for k := s.depth - 1; k >= 0; k-- {
		if s.frames[k].kind == a || s.frames[k].kind == b {
			return k
		}
	}
	return -1
}

// popTo pops elements up to and including the innermost of kind, if any.
func (s *scanner) popTo(kind frameKind) {
	for k := s.depth - 1; k >= 0; k-- {
		if s.frames[k].kind == kind {
			s.depth = k
			return
		}
	}
}

// textGivesUp reports whether text here would make the browser reopen a
// formatting element that the scanner cannot place: text processed by the
// HTML rules inside an integration point while an active formatting element
// may be closed.
func (s *scanner) textGivesUp() bool {
	return s.stale && s.depth > 0 && s.inIP()
}

// canInsert reports whether a script inserted here is an HTML script
// element that runs: no foreign content, template, select or integration
// point is open.
func (s *scanner) canInsert() bool {
	for k := range s.depth {
		if !s.frames[k].kind.htmlElement() {
			return false
		}
	}
	return true
}

// cdata reports whether "<![CDATA[" here begins a CDATA section: the current
// node is not an HTML element.
func (s *scanner) cdata() bool {
	top := s.top()
	return top != nil && top.kind.foreign()
}

// fastRun reports whether the fast path may read tags here, handing each
// to fastTree: the current node is an HTML element of a formatting run
// outside any integration point, and scripting is on.
func (s *scanner) fastRun() bool {
	if s.scriptOff || !s.run() {
		return false
	}
	b := s.boundary()
	return b < 0 || !s.frames[b].kind.ip()
}

// fastTree gives the stack a tag that the fast path read: one whose name,
// the word w of l bytes, is no raw-text, document, svg, math, template,
// select or frameset tag; a formatting start tag (kind tagFmt) outside a
// formatting run, or any tag inside one (fastRun).
func (s *scanner) fastTree(w uint64, l int, end bool, kind tagKind) event {
	if s.depth == 0 && s.stale {
		return evNone
	}
	var name [8]byte
	binary.LittleEndian.PutUint64(name[:], w)
	if s.depth == 0 {
		return s.push(fFmt, false, name[:l])
	}
	if end {
		return s.endHTML(name[:l])
	}
	s.kind, s.selfClose, s.valSlash = kind, false, false
	return s.startHTML(name[:l])
}

// tracking reports whether the scanner must read every tag and script
// through the resumable states, so that the stack sees it.
func (s *scanner) tracking() bool { return s.depth > 0 || s.scriptOff }

// canEnd reports whether a script inserted at the end of the stream runs:
// the scanner stands in text, outside every tag, comment, raw text,
// plaintext, CDATA section and noscript, with nothing open that
// canInsert refuses.
func (s *scanner) canEnd() bool {
	return s.state == sData && !s.inNoscript && s.canInsert()
}

// sameTree reports whether s and t have the same elements open.
func (s *scanner) sameTree(t *scanner) bool {
	if s.depth != t.depth {
		return false
	}
	for k := range s.depth {
		if s.frames[k] != t.frames[k] {
			return false
		}
	}
	return true
}
