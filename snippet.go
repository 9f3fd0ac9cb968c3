package chatwidget

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
// templates. The first <script> start tag of the embed gets markerAttr.
func compileTemplates(embed, customerData, anonymous, widgetID string) (e, cd, anon snippetTemplate, err error) {
	embed = strings.ReplaceAll(embed, widgetIDPlaceholder, widgetID)
	customerData = strings.ReplaceAll(customerData, widgetIDPlaceholder, widgetID)
	anonymous = strings.ReplaceAll(anonymous, widgetIDPlaceholder, widgetID)
	if e, err = compileTemplate(embed, true); err != nil {
		return nil, nil, nil, fmt.Errorf("chatwidget: embed template: %w", err)
	}
	if cd, err = compileTemplate(customerData, false); err != nil {
		return nil, nil, nil, fmt.Errorf("chatwidget: customer-data template: %w", err)
	}
	if !slices.ContainsFunc(cd, func(p part) bool { return p.slot == slotToken }) {
		return nil, nil, nil, errors.New("chatwidget: customer-data template has no JWT_TOKEN placeholder, so logged-in visitors would reach the widget without their identity; paste the vendor's customer-data code, which has one")
	}
	if strings.Contains(anonymous, tokenPlaceholder) {
		return nil, nil, nil, errors.New("chatwidget: anonymous template holds JWT_TOKEN, but anonymous visitors have no token; leave it out")
	}
	if anon, err = compileTemplate(anonymous, false); err != nil {
		return nil, nil, nil, fmt.Errorf("chatwidget: anonymous template: %w", err)
	}
	return e, cd, anon, nil
}

func compileTemplate(src string, marker bool) (snippetTemplate, error) {
	var t snippetTemplate
	z := html.NewTokenizer(strings.NewReader(src))
	lit, off, scripts := 0, 0, 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := len(z.Raw())
		name, _ := z.TagName()
		if (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && string(name) == "script" {
			at := off + len("<script")
			t = appendLiteral(t, src[lit:at])
			if marker && scripts == 0 {
				t = appendLiteral(t, " "+markerAttr+`=""`)
			}
			t = append(t, part{slot: slotNonce})
			lit = at
			scripts++
		}
		off += raw
	}
	t = appendLiteral(t, src[lit:])
	if marker && scripts == 0 {
		return nil, errors.New("it has no <script> element; paste the vendor's code, which loads the widget with one")
	}
	for _, ph := range placeholders {
		t = splitAt(t, ph.text, ph.slot)
	}
	return t, nil
}

// splitAt splits the literals of t at each placeholder, which becomes s.
func splitAt(t snippetTemplate, placeholder string, s slot) snippetTemplate {
	var out snippetTemplate
	for _, p := range t {
		pieces := strings.Split(p.lit, placeholder)
		for i, lit := range pieces {
			out = appendLiteral(out, lit)
			if i < len(pieces)-1 {
				out = append(out, part{slot: s})
			}
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
