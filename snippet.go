package chatwidget

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/chatwidget/chatwidget/internal/rewrite"
	"golang.org/x/net/html"
)

// DefaultEmbedTemplate is the embed code used when [WithEmbedTemplate] is not
// given: the usual shape of a vendor's code, an async script loaded by widget
// ID. Replace it with the code from your vendor's settings.
const DefaultEmbedTemplate = `<script async="" src="https://widget.chatwidget.dev/v1/WIDGET_ID.js"></script>`

// DefaultCustomerDataTemplate is the customer-data code used when
// [WithCustomerDataTemplate] is not given: a function the widget calls to get
// the visitor's token.
const DefaultCustomerDataTemplate = `<script>window.chatWidgetCustomerData=function(done){done("JWT_TOKEN")};</script>`

// The placeholders vendors put in their code.
const (
	widgetIDPlaceholder = "WIDGET_ID"
	tokenPlaceholder    = "JWT_TOKEN"
	expPlaceholder      = "JWT_EXP" // the token's exp, for the refresh script
	nowPlaceholder      = "JWT_NOW" // the server's clock, for the refresh script
)

// slot is what a part of a compiled template adds at request time.
type slot uint8

const (
	slotNone  slot = iota
	slotNonce      // nonce="…" for a <script> start tag, when there is a nonce
	slotToken      // the signed token
	slotExp        // the token's exp, in Unix seconds
	slotNow        // the server's clock, in Unix seconds
)

// placeholders are the request-time placeholders of templates.
var placeholders = []struct {
	text string
	slot slot
}{{tokenPlaceholder, slotToken}, {expPlaceholder, slotExp}, {nowPlaceholder, slotNow}}

// part is a literal followed by a slot.
type part struct {
	lit  string
	slot slot
}

// snippetTemplate is a vendor template compiled at construction: the widget
// ID substituted, and the places of the nonce and the token found.
type snippetTemplate []part

// compileTemplates compiles the embed, customer-data and anonymous
// templates, and reports every problem of the three at once. The first
// <script> start tag of the embed gets [rewrite.MarkerAttr].
func compileTemplates(embed, customerData, anonymous, widgetID string) (e, cd, anon snippetTemplate, err error) {
	if !widgetIDPattern.MatchString(widgetID) {
		// validate reports the ID; check the templates as they would be
		// with a good one (New fails in any case).
		widgetID = "widget-id"
	}
	e, errE := compileTemplate("embed", embed, widgetID, true)
	cd, errCD := compileTemplate("customer-data", customerData, widgetID, false)
	anon, errAnon := compileTemplate("anonymous", anonymous, widgetID, false)
	errs := []error{errE, errCD, errAnon}
	if !strings.Contains(customerData, tokenPlaceholder) {
		errs = append(errs, errors.New("chatwidget: customer-data template has no JWT_TOKEN placeholder, so logged-in visitors would reach the widget without their identity; paste the vendor's customer-data code, which has one"))
	}
	if strings.Contains(anonymous, tokenPlaceholder) {
		errs = append(errs, errors.New("chatwidget: anonymous template holds JWT_TOKEN, but anonymous visitors have no token; leave it out"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, err
	}
	return e, cd, anon, nil
}

// compileTemplate compiles the template called name (for errors). It
// refuses a template that refers to a URL the page's <base href> could
// change (see [checkURLs]), and, with marker, one with no <script>.
func compileTemplate(name, src, widgetID string, marker bool) (snippetTemplate, error) {
	var t snippetTemplate
	var errs []error
	// The template is read with a stand-in of the placeholder's length for
	// the widget ID, so that offsets in it are offsets in src; the ID goes
	// in with the other placeholders, in one pass (see substitute).
	const standIn = "widget-id"
	errs = checkTemplateURLs(strings.ReplaceAll(src, widgetIDPlaceholder, widgetID))
	if err := checkTokenPlaces(src); err != nil {
		errs = append(errs, err)
	}
	z := html.NewTokenizer(strings.NewReader(strings.ReplaceAll(src, widgetIDPlaceholder, standIn)))
	lit, off, scripts := 0, 0, 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := len(z.Raw())
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			tag, _ := z.TagName()
			if string(tag) == "script" {
				at := off + len("<script")
				t = appendLiteral(t, src[lit:at])
				if marker && scripts == 0 {
					t = appendLiteral(t, " "+rewrite.MarkerAttr+`=""`)
				}
				t = append(t, part{slot: slotNonce})
				lit = at
				scripts++
			}
		}
		off += raw
	}
	t = appendLiteral(t, src[lit:])
	if marker && scripts == 0 {
		errs = append(errs, errors.New("it has no <script> element; paste the vendor's code, which loads the widget with one"))
	}
	for i, err := range errs {
		errs[i] = fmt.Errorf("chatwidget: %s template: %w", name, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return substitute(t, widgetID), nil
}

// checkTokenPlaces reports a JWT_TOKEN of src that stands anywhere but in
// the text of a <script> element that a browser runs as JavaScript: no src
// (a script that loads one ignores its text), and no type or a JavaScript
// one. In an attribute, a comment, markup or a data block (type
// text/plain, application/json), the token would be page content, which
// other markup could show, send or copy elsewhere.
func checkTokenPlaces(src string) error {
	want := strings.Count(src, tokenPlaceholder)
	if want == 0 {
		return nil
	}
	z := html.NewTokenizer(strings.NewReader(src))
	inScript, found := false, 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if found != want {
				return fmt.Errorf("it has JWT_TOKEN %d times outside the text of a <script> that runs as JavaScript (without src, with no type or a JavaScript one); the token may stand only there, as in %s", want-found, DefaultCustomerDataTemplate)
			}
			return nil
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			inScript = string(name) == "script" && runsText(z, hasAttr)
		case html.TextToken:
			if inScript {
				found += strings.Count(string(z.Raw()), tokenPlaceholder)
			}
		default:
			inScript = false
		}
	}
}

// runsText reports whether the attributes of the current <script> start tag
// of z make a browser run its text as JavaScript.
func runsText(z *html.Tokenizer, hasAttr bool) bool {
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "src":
			return false
		case "type":
			switch strings.ToLower(strings.TrimSpace(string(v))) {
			case "", "module", "text/javascript", "application/javascript", "text/ecmascript", "application/ecmascript":
			default:
				return false
			}
		}
	}
	return true
}

// urlAttrs are the attributes, on any element, whose value is a URL that
// the browser resolves against the document's base URL (srcset,
// imagesrcset and ping hold several), each with what a <base href> would
// change. The data attribute counts on <object> only.
var urlAttrs = map[string]string{
	"src": "where it loads from", "srcset": "where it loads from", "imagesrcset": "where it loads from",
	"poster": "where it loads from", "background": "where it loads from", "data": "where it loads from",
	"href": "where it points", "xlink:href": "where it points", "action": "where it sends",
	"formaction": "where it sends", "ping": "where it pings",
}

// checkURLs reports every problem with the URLs in the attributes of the
// current start tag of z, called tag. A template's URLs must be absolute,
// since the snippet goes at the end of a page whose markup, user content
// included, may hold a <base href> that would change what a relative URL
// (or a scheme-relative one, //host/…) refers to, nonce and all; and it
// must not hold a <base> of its own, which would change the page's.
func checkURLs(z *html.Tokenizer, tag string, hasAttr bool) []error {
	var errs []error
	if tag == "base" {
		errs = append(errs, errors.New("it has a <base> element, which would change the base URL of the whole page; leave it out"))
	}
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		attr := string(k)
		change, ok := urlAttrs[attr]
		if !ok || attr == "data" && tag != "object" {
			continue
		}
		for _, u := range attrURLs(attr, string(v)) {
			if err := checkURL(u, change); err != nil {
				errs = append(errs, fmt.Errorf("%s %s %q %w", tag, attr, truncate(u, 80), err))
			}
		}
	}
	return errs
}

// attrURLs returns the URLs in the value v of attr: one, or the candidates
// of a srcset, or the list of a ping.
func attrURLs(attr, v string) []string {
	switch attr {
	case "ping":
		return strings.Fields(v)
	case "srcset", "imagesrcset":
		return srcsetURLs(v)
	}
	return []string{v}
}

// srcsetURLs returns the URLs of the image candidates in a srcset, as the
// HTML standard splits them: a URL runs to the next whitespace (less any
// trailing commas, which end the candidate), and its descriptors run to the
// next comma outside parentheses.
func srcsetURLs(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, htmlSpace+",")
		if s == "" {
			return out
		}
		end := strings.IndexAny(s, htmlSpace)
		if end < 0 {
			end = len(s)
		}
		u := strings.TrimRight(s[:end], ",")
		out = append(out, u)
		s = s[end:]
		if len(u) < end { // the commas ended the candidate
			continue
		}
		depth := 0
		for end = 0; end < len(s) && (s[end] != ',' || depth > 0); end++ {
			switch s[end] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			}
		}
		s = s[end:]
	}
}

// htmlSpace is the ASCII whitespace of the HTML standard.
const htmlSpace = " \t\n\f\r"

// checkURL reports why the URL u, from an attribute, is not one that no
// <base href> can change: an https URL with a host, or an http one on a
// loopback host (see [loopbackHost]). u reads as browsers read it, except
// that what they would repair (spaces and control characters, which they
// strip, backslashes, which they read as "/") is refused. change says what
// a <base href> would change, for the error.
func checkURL(u, change string) error {
	if strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return errors.New("holds a space, a control character or a backslash, which browsers strip or read as \"/\"; write the plain absolute https URL")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("is not a URL (%v); write the absolute https URL", err)
	}
	// Browsers take "https:x" and "https:/x" on an https page as relative:
	// only the literal "//" starts a host.
	hasHost := p.Host != "" && len(u) > len(p.Scheme)+3 && u[len(p.Scheme):len(p.Scheme)+3] == "://"
	switch {
	case p.Scheme == "https" && hasHost:
		return nil
	case p.Scheme == "http" && hasHost && loopbackHost(p.Hostname()):
		return nil
	case p.Scheme == "http" && hasHost:
		return fmt.Errorf("is plain http, which a network attacker can replace and an https page refuses; write the https URL, e.g. %q (http is accepted only for localhost and loopback addresses, for demos and tests)", "https"+truncate(u[len("http"):], 80))
	case p.Scheme != "" && p.Scheme != "https" && p.Scheme != "http":
		return fmt.Errorf("has the scheme %s:; a template may refer only to https URLs (http on a loopback address)", truncate(p.Scheme, 20))
	}
	return fmt.Errorf("is relative, and a <base href> in the page would change %s; write the absolute URL, e.g. %q", change, absoluteExample(truncate(u, 80)))
}

// absoluteExample returns the absolute URL that the relative u, from a
// template, could stand for: on the same host for //host/…, on example.com
// otherwise.
func absoluteExample(u string) string {
	switch {
	case strings.HasPrefix(u, "//"):
		return "https:" + u
	case strings.HasPrefix(u, "/"):
		return "https://example.com" + u
	}
	if scheme, rest, ok := strings.Cut(u, ":"); ok && !strings.ContainsAny(scheme, "/?#") {
		u = strings.TrimLeft(rest, "/") // https:x, https:/x
	}
	return "https://example.com/" + u
}

// loopbackHost reports whether host, from a URL, names this machine:
// localhost, an IPv4 address in 127.0.0.0/8 or the IPv6 address ::1, the
// hosts a browser reaches without the network (and treats as secure), where
// plain http is fine for demos and tests.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && (a.Is4() && a.IsLoopback() || a == netip.IPv6Loopback())
}

// checkTemplateURLs checks the URLs of every start tag of src, a template
// with its widget ID in place (see checkURLs).
func checkTemplateURLs(src string) []error {
	var errs []error
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return errs
		case html.StartTagToken, html.SelfClosingTagToken:
			tag, hasAttr := z.TagName()
			errs = append(errs, checkURLs(z, string(tag), hasAttr)...)
		}
	}
}

// substitute replaces, in one pass over each literal of t, WIDGET_ID by
// widgetID and the request-time placeholders by their slots: a substituted
// value is never read again, so a widget ID spelled JWT_TOKEN stays text.
func substitute(t snippetTemplate, widgetID string) snippetTemplate {
	var out snippetTemplate
	for _, p := range t {
		for lit := p.lit; lit != ""; {
			at, ph, s := len(lit), "", slotNone
			if k := strings.Index(lit, widgetIDPlaceholder); k >= 0 {
				at, ph = k, widgetIDPlaceholder
			}
			for _, c := range placeholders {
				if k := strings.Index(lit[:at], c.text); k >= 0 {
					at, ph, s = k, c.text, c.slot
				}
			}
			out = appendLiteral(out, lit[:at])
			switch {
			case ph == "":
			case s == slotNone:
				out = appendLiteral(out, widgetID)
			default:
				out = append(out, part{slot: s})
			}
			lit = lit[min(at+len(ph), len(lit)):]
		}
		if p.slot != slotNone {
			out = append(out, part{slot: p.slot})
		}
	}
	return out
}

// appendLiteral adds s to t, joining it to a trailing literal.
func appendLiteral(t snippetTemplate, s string) snippetTemplate {
	if s == "" {
		return t
	}
	if n := len(t); n > 0 && t[n-1].slot == slotNone {
		t[n-1].lit += s
		return t
	}
	return append(t, part{lit: s})
}

// appendTo renders t onto dst with the given token and nonce, each already
// checked to be inert in HTML and JavaScript.
func (t snippetTemplate) appendTo(dst []byte, tok signed, nonce string) []byte {
	for _, p := range t {
		dst = append(dst, p.lit...)
		switch p.slot {
		case slotNonce:
			if nonce != "" {
				dst = append(dst, ` nonce="`...)
				dst = append(dst, nonce...)
				dst = append(dst, '"')
			}
		case slotToken:
			dst = append(dst, tok.token...)
		case slotExp:
			dst = strconv.AppendInt(dst, tok.exp, 10)
		case slotNow:
			dst = strconv.AppendInt(dst, tok.now, 10)
		}
	}
	return dst
}

// validNonce reports whether a CSP nonce holds only base64 characters (either
// alphabet) and so cannot leave its attribute.
func validNonce(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
			return false
		}
	}
	return len(s) <= 256
}

// validToken reports whether s is a compact JWS: base64url parts joined by
// dots, inert in any HTML or JavaScript context.
func validToken(s string) bool {
	if s == "" || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
