package chatwidget

import (
	"strings"

	"github.com/chatwidget/chatwidget/internal/rewrite"
)

// contentType is a response's MIME type as a browser reads its
// Content-Type header lines (the Fetch standard's "extract a MIME type"):
// the last value that parses wins, with the charset of an earlier value of
// the same type if it has none.
type contentType struct {
	essence string // type/subtype, as written; compare with strings.EqualFold
	charset string // the charset parameter, "" if none
	ok      bool   // some value parsed
	// mixed is set when the values do not all agree: one does not parse
	// (Chromium reads "text/html (x); charset=iso-2022-jp" as text/html in
	// ISO-2022-JP, the standard not at all), is */*, names another type, or
	// names a charset the widget does not accept. Such a page is left alone.
	mixed bool
}

// html reports whether the type is text/html.
func (ct contentType) html() bool { return ct.ok && strings.EqualFold(ct.essence, "text/html") }

// extractMIME reads the values of a Content-Type header as the Fetch
// standard does: each line is split at commas outside quoted strings.
func extractMIME(values []string) contentType {
	var ct contentType
	n := 0 // values seen
	for _, line := range values {
		for line != "" {
			var v string
			v, line = splitHeaderValue(line)
			n++
			essence, charset, bad, ok := parseMIME(v)
			if !ok || essence == "*/*" {
				ct.mixed = true
				continue
			}
			ct.mixed = ct.mixed || bad || ct.ok && !strings.EqualFold(essence, ct.essence)
			if !ct.ok || !strings.EqualFold(essence, ct.essence) {
				ct.essence, ct.charset, ct.ok = essence, charset, true
			} else if charset != "" {
				ct.charset = charset
			}
		}
	}
	// One value that does not parse is no type at all; one that names
	// another charset is refused for that charset.
	ct.mixed = ct.mixed && (n > 1 || ct.ok)
	return ct
}

// splitHeaderValue returns the first comma-separated value of s, outside
// quoted strings, and the rest after the comma.
func splitHeaderValue(s string) (value, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// isHTTPSpace reports whether c is HTTP white space: only space, tab, CR
// and LF, unlike strings.TrimSpace (browsers read "text/html\v" as another
// type).
func isHTTPSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimHTTPSpace(s string) string {
	for s != "" && isHTTPSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isHTTPSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// tokenChar marks the HTTP token code points.
var tokenChar = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c)
	}
	return t
}()

// isToken reports whether s is made of HTTP token code points, and not
// empty.
func isToken(s string) bool {
	for i := range len(s) {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return s != ""
}

// parseMIME parses a MIME type as the MIME Sniffing standard does and
// returns its essence and charset parameter (the first one, unquoted), and
// whether any charset parameter, the first or another, names an encoding
// the widget does not accept. A quoted charset holding a backslash escape
// is returned as written, which names no encoding the widget accepts.
func parseMIME(s string) (essence, charset string, bad, ok bool) {
	s = trimHTTPSpace(s)
	slash := strings.IndexByte(s, '/')
	if slash < 0 || !isToken(s[:slash]) {
		return "", "", false, false
	}
	rest := s[slash+1:]
	semi := strings.IndexByte(rest, ';')
	sub := rest
	if semi >= 0 {
		sub = rest[:semi]
	}
	for sub != "" && isHTTPSpace(sub[len(sub)-1]) {
		sub = sub[:len(sub)-1]
	}
	if !isToken(sub) {
		return "", "", false, false
	}
	essence = s[:slash+1+len(sub)]
	if semi < 0 {
		return essence, "", false, true
	}
	params := rest[semi+1:]
	for params != "" {
		for params != "" && isHTTPSpace(params[0]) {
			params = params[1:]
		}
		k := strings.IndexAny(params, ";=")
		if k < 0 {
			break
		}
		name := params[:k]
		if params[k] == ';' {
			params = params[k+1:]
			continue
		}
		params = params[k+1:]
		var val string
		if params != "" && params[0] == '"' {
			end := 1
			for end < len(params) && params[end] != '"' {
				if params[end] == '\\' {
					end++
				}
				end++
			}
			val = params[1:min(end, len(params))]
			params = params[min(end+1, len(params)):]
			if k := strings.IndexByte(params, ';'); k >= 0 {
				params = params[k+1:]
			} else {
				params = ""
			}
		} else {
			k := strings.IndexByte(params, ';')
			if k < 0 {
				k = len(params)
			}
			val = trimHTTPSpace(params[:k])
			params = params[min(k+1, len(params)):]
			if val == "" {
				continue
			}
		}
		if !strings.EqualFold(name, "charset") {
			continue
		}
		bad = bad || rewrite.LabelEncoding(val) == rewrite.EncodingOther
		if charset == "" {
			charset = val
		}
	}
	return essence, charset, bad, true
}
