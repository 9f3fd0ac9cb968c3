package placement

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// windowLen is the length of the pieces of the token the attacker's requests
// are searched for, beside the token and its parts: 16 base64url characters
// (96 bits) are not there by chance, and a decoder that mangles some of the
// token (ISO-2022-JP reads it in pairs, as JIS X 0208, and drops the pairs
// it has no character for) leaves such pieces whole.
const windowLen = 16

// tokenRE matches the token the customer-data template carries.
var tokenRE = regexp.MustCompile(regexp.QuoteMeta(customerDataPrefix) + `([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"`)

// tokensIn returns the tokens that the customer-data template put into a
// served body, in order.
func tokensIn(body []byte) []string {
	var out []string
	for _, m := range tokenRE.FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// snippetCount returns how many times the inserted customer-data code is in
// body (whole or not: the prefix is enough).
func snippetCount(body []byte) int { return bytes.Count(body, []byte(customerDataPrefix)) }

// piecesOf returns the token and its three dot-separated parts.
func piecesOf(token string) [4]string {
	parts := strings.SplitN(token, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, token)
	}
	return [4]string{token, parts[0], parts[1], parts[2]}
}

// A leak is a request of the attacker's that carries (some of) the token.
type leak struct {
	req  request
	what string // which piece, and in which reading of the request
}

func (l leak) String() string { return fmt.Sprintf("%s in %s", l.what, l.req) }

// leaks returns the requests that carry the token, a part of it, or
// windowLen characters of it, in any reading of the request: as sent,
// percent-decoded (once and twice), and as the UTF-16LE and UTF-16BE bytes
// of the decoded text's characters (a page decoded as UTF-16 sends the
// snippet's bytes as characters, which the URL encodes in UTF-8).
func leaks(reqs []request, token string) []leak {
	var out []leak
	for _, r := range reqs {
		if what := find(readings(r), token); what != "" {
			out = append(out, leak{r, what})
		}
	}
	return out
}

// A reading is one way to read a request's bytes.
type reading struct {
	name string
	b    []byte
}

// readings returns the ways the attacker could read r.
func readings(r request) []reading {
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s\n", r.Method, r.URI)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&raw, "%s: %s\n", k, v)
		}
	}
	raw.Write(r.Body)
	once := percentDecode(raw.Bytes())
	twice := percentDecode(once)
	return []reading{
		{"as sent", raw.Bytes()},
		{"percent-decoded", once},
		{"percent-decoded twice", twice},
		{"percent-decoded, as UTF-16LE", utf16Bytes(once, false)},
		{"percent-decoded, as UTF-16BE", utf16Bytes(once, true)},
	}
}

// find returns which piece of the token is in which reading, or "".
func find(rs []reading, token string) string {
	p := piecesOf(token)
	names := [4]string{"the token", "the token's header", "the token's payload", "the token's signature"}
	for _, r := range rs {
		for i, s := range p {
			if bytes.Contains(r.b, []byte(s)) {
				return names[i] + " (" + r.name + ")"
			}
		}
	}
	for _, r := range rs {
		for i := 0; i+windowLen <= len(token); i++ {
			if w := token[i : i+windowLen]; bytes.Contains(r.b, []byte(w)) {
				return fmt.Sprintf("%q, %d characters of the token at offset %d (%s)", w, windowLen, i, r.name)
			}
		}
	}
	return ""
}

// percentDecode decodes every valid %XX escape of b and leaves the rest.
func percentDecode(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		out = append(out, b[i])
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// utf16Bytes returns the UTF-16 code units of the UTF-8 text b as bytes.
func utf16Bytes(b []byte, bigEndian bool) []byte {
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		for _, u := range utf16.Encode([]rune{r}) {
			if bigEndian {
				out = append(out, byte(u>>8), byte(u))
			} else {
				out = append(out, byte(u), byte(u>>8))
			}
		}
	}
	return out
}

// A placement is where x/net/html's parser puts an HTML <script> that holds
// the token.
type placement struct {
	chain string // the labels of the script and its ancestors, root first, as walkJS writes them
	runs  bool   // outside foreign content and <template>
	own   bool   // the script is the snippet's (its text starts with the customer-data code)
}

// parsed returns where html.Parse, with scripting on or off, puts the HTML
// script elements of body whose text holds the token.
func parsed(body []byte, token string, scripting bool) ([]placement, error) {
	doc, err := html.ParseWithOptions(bytes.NewReader(body), html.ParseOptionEnableScripting(scripting))
	if err != nil {
		return nil, err
	}
	var out []placement
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Namespace != "" || n.Data != "script" || !strings.Contains(text(n), token) {
			continue
		}
		chain := []string{"script"}
		runs := true
		for a := n.Parent; a != nil && a.Type == html.ElementNode; a = a.Parent {
			chain = append(chain, label(a))
			if a.Namespace != "" || a.Data == "template" {
				runs = false
			}
		}
		slices.Reverse(chain)
		own := strings.HasPrefix(text(n), customerDataPrefix)
		out = append(out, placement{strings.Join(chain, " > "), runs, own})
	}
	return out, nil
}

// forbidden are the elements that no copy of the token may be inside: a
// script there is inert, foreign, or text (walkJS has the same list).
//
// noscriptAllowed: with scripting off, a script inside a <noscript> element
// is allowed. No script runs in such a browser anyway, and <noscript> is
// ordinary markup to it (its content is shown): the token is still only in
// a script's text, never in an attribute, text or comment. The library
// makes sure the two readings of a <noscript> (raw text with scripting on,
// markup with it off) meet at the same end tag in the same tokenizer state,
// with the same foreign content, template and select elements open; it does
// not follow every HTML element opened inside one (an untracked <table> or
// nested <noscript> keeps it open for a browser with scripting off).
var forbidden = map[string]bool{
	"template": true, "svg": true, "math": true, "noscript": true, "textarea": true, "title": true,
	"style": true, "iframe": true, "noembed": true, "noframes": true, "xmp": true,
}

// parsedBadHits is check (b) on x/net/html's tree of body instead of
// Chromium's DOM: it describes each copy of the token, or of a part, that
// html.Parse puts anywhere but in the text of an HTML script outside the
// forbidden elements. Where Chromium departs from the standard (see doc.go),
// x/net/html stands in for the browsers that follow it.
func parsedBadHits(body []byte, token string, scripting bool) ([]string, error) {
	doc, err := html.ParseWithOptions(bytes.NewReader(body), html.ParseOptionEnableScripting(scripting))
	if err != nil {
		return nil, err
	}
	pieces := piecesOf(token)
	names := [4]string{"token", "header", "payload", "signature"}
	var out []string
	// look reports the pieces in s, found at where (below bad, the outermost
	// forbidden element, if any).
	look := func(s, kind, where, bad string, ok bool) {
		for i, p := range pieces {
			if !strings.Contains(s, p) {
				continue
			}
			if !ok || i > 0 {
				msg := fmt.Sprintf("the %s is in %s at %s", names[i], article(kind), orRoot(where))
				if bad != "" {
					msg += " (inside <" + bad + ">)"
				}
				out = append(out, msg)
			}
			return // the token holds its parts
		}
	}
	for n := range doc.Descendants() {
		switch n.Type {
		case html.ElementNode:
			for _, a := range n.Attr {
				where := chainOf(n) + " [" + a.Key + "]"
				look(a.Key, "attribute name", where, outermost(n.Parent, scripting), false)
				look(a.Val, "attribute value", where, outermost(n.Parent, scripting), false)
			}
		case html.TextNode:
			p, bad := n.Parent, outermost(n.Parent, scripting)
			ok := p.Type == html.ElementNode && p.Namespace == "" && p.Data == "script" && bad == ""
			look(n.Data, "text node", chainOf(p), bad, ok)
		case html.CommentNode:
			look(n.Data, "comment", chainOf(n.Parent), outermost(n.Parent, scripting), false)
		case html.DoctypeNode:
			look(n.Data, "doctype", "", "", false)
		}
	}
	return out, nil
}

// chainOf returns the labels of n and its ancestors, root first.
func chainOf(n *html.Node) string {
	var chain []string
	for a := n; a != nil && a.Type == html.ElementNode; a = a.Parent {
		chain = append(chain, label(a))
	}
	slices.Reverse(chain)
	return strings.Join(chain, " > ")
}

// outermost returns the label of the outermost forbidden element among n
// and its ancestors, as walkJS reports it, or "". With scripting off,
// <noscript> is not forbidden (see noscriptAllowed).
func outermost(n *html.Node, scripting bool) string {
	var bad string
	for a := n; a != nil; a = a.Parent {
		if a.Type == html.ElementNode && forbidden[a.Data] && (scripting || a.Data != "noscript") {
			bad = label(a)
		}
	}
	return bad
}

// text returns the text of n's children.
func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.ChildNodes() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// label names an element as walkJS does: its name, after "svg:" or "math:"
// for foreign elements.
func label(n *html.Node) string {
	if n.Namespace != "" {
		return n.Namespace + ":" + n.Data
	}
	return n.Data
}

// unescapedURI returns r's URI percent-decoded, for reading.
func unescapedURI(r request) string {
	s, err := url.PathUnescape(r.URI)
	if err != nil {
		return r.URI
	}
	return s
}
