package rewrite

import (
	"bytes"
	"strings"
)

// This file settles, as browsers do, the character encoding of a page, so
// that the widget goes only into pages whose bytes a browser reads the way
// the scanner does: a byte below 0x80 is that ASCII character, and never
// part of another. That holds for UTF-8 and for the single-byte encodings
// of asciiCompatLabels; it does not for UTF-16, ISO-2022-JP (whose escape
// sequences turn ASCII bytes into halves of characters), Shift_JIS, EUC,
// GBK and Big5 (whose second bytes may be ASCII), or any encoding the
// scanner does not know.

// Encoding is how a page's bytes are to be read, as far as the snippet
// cares.
type Encoding uint8

// The encodings the injector tells apart.
const (
	EncodingUnknown Encoding = iota // nothing declared: settled by the byte order mark and the prescan
	EncodingUTF8                    // UTF-8
	EncodingASCII                   // an ASCII-compatible single-byte encoding: the snippet must be ASCII
	EncodingOther                   // anything else: no snippet
)

// utf8Labels are the WHATWG Encoding Standard's labels of UTF-8; the
// labels of UTF-16, which a <meta> prescan reads as UTF-8, are kept apart.
var (
	utf8Labels  = []string{"unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"}
	utf16Labels = []string{"unicodefffe", "utf-16be", "csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"}
	// asciiCompatLabels are the labels of windows-1252 (which ISO-8859-1
	// and US-ASCII mean to a browser), ISO-8859-15, windows-1250 and
	// windows-1251: one byte per character, bytes below 0x80 ASCII.
	asciiCompatLabels = []string{
		"ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1",
		"iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1",
		"us-ascii", "windows-1252", "x-cp1252",
		"csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9",
		"cp1250", "windows-1250", "x-cp1250", "cp1251", "windows-1251", "x-cp1251",
	}
)

// LabelEncoding returns the encoding that label, a Content-Type's charset
// parameter, names under the WHATWG Encoding Standard: [EncodingUnknown]
// for an empty label, [EncodingOther] for any label but those of UTF-8 and
// of the single-byte encodings whose bytes below 0x80 are ASCII.
func LabelEncoding(label string) Encoding {
	label = trimASCIISpace(label)
	switch {
	case label == "":
		return EncodingUnknown
	case hasLabel(utf8Labels, label):
		return EncodingUTF8
	case hasLabel(asciiCompatLabels, label):
		return EncodingASCII
	}
	return EncodingOther
}

func hasLabel(labels []string, label string) bool {
	for _, l := range labels {
		if len(l) == len(label) && equalFoldASCII(l, label) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether a and b are equal under ASCII case folding.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func trimASCIISpace(s string) string {
	for s != "" && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(c byte) bool { return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' }

// prescanLen is how many bytes browsers prescan for a <meta> charset.
const prescanLen = 1024

// bomEncoding returns the encoding a byte order mark at the start of head
// names (browsers obey it over any header), and whether there is one.
func bomEncoding(head []byte) (Encoding, bool) {
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		return EncodingUTF8, true
	case bytes.HasPrefix(head, []byte("\xfe\xff")), bytes.HasPrefix(head, []byte("\xff\xfe")):
		return EncodingOther, true
	}
	return EncodingUnknown, false
}

// sniffEncoding settles the encoding of a page whose Content-Type names no
// charset, from its first bytes: the byte order mark, then the <meta>
// prescan of the first prescanLen bytes. EncodingUnknown means neither says
// anything. A <meta> naming UTF-16 means UTF-8, as the standard says.
func sniffEncoding(head []byte) Encoding {
	if enc, ok := bomEncoding(head); ok {
		return enc
	}
	label, ok := prescan(head[:min(len(head), prescanLen)])
	if !ok {
		return EncodingUnknown
	}
	if hasLabel(utf16Labels, trimASCIISpace(label)) {
		return EncodingUTF8
	}
	if enc := LabelEncoding(label); enc == EncodingUTF8 {
		return enc
	}
	// Anything else, an unknown label included (which a browser would
	// pass over to look further), keeps the page as it is.
	return EncodingOther
}

// prescan runs the HTML standard's "prescan a byte stream to determine its
// encoding" over b and returns the charset label of the first <meta> that
// declares one. Running out of bytes ends it with nothing.
func prescan(b []byte) (string, bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '<' {
			continue
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(b[i+2:], []byte("-->"))
			if k < 0 {
				return "", false
			}
			i += 2 + k + 2
		case len(rest) > 6 && equalFoldASCII(string(rest[:5]), "<meta") && (isASCIISpace(rest[5]) || rest[5] == '/'):
			label, next, ok := metaCharset(b, i+5)
			if ok {
				return label, true
			}
			if next < 0 {
				return "", false
			}
			i = next - 1
		case len(rest) > 2 && (isLetter(rest[1]) || rest[1] == '/' && isLetter(rest[2])):
			k := i + 1
			for k < len(b) && !isASCIISpace(b[k]) && b[k] != '>' {
				k++
			}
			for {
				_, _, next, ok := prescanAttr(b, k)
				if next < 0 {
					return "", false
				}
				k = next
				if !ok {
					break
				}
			}
			i = k - 1
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '/' || rest[1] == '?'):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return "", false
			}
			i += k
		}
	}
	return "", false
}

// metaCharset reads the attributes of a <meta> tag from b[i] on, as the
// prescan does, and returns the charset it declares, if any, and where the
// prescan goes on (-1 once it ran out of bytes).
func metaCharset(b []byte, i int) (label string, next int, ok bool) {
	var seen [3]bool // http-equiv, content, charset
	gotPragma, needPragma, decided := false, false, false
	var charset string
	for {
		name, val, k, more := prescanAttr(b, i)
		if k < 0 {
			return "", -1, false
		}
		i = k
		if !more {
			break
		}
		switch name {
		case "http-equiv":
			if !seen[0] {
				seen[0] = true
				gotPragma = val == "content-type"
			}
		case "content":
			if !seen[1] {
				seen[1] = true
				if c, found := contentCharset(val); found && !decided {
					charset, needPragma, decided = c, true, true
				}
			}
		case "charset":
			if !seen[2] {
				seen[2] = true
				charset, needPragma, decided = val, false, true
			}
		}
	}
	if !decided || needPragma && !gotPragma {
		return "", i, false
	}
	if LabelEncoding(charset) == EncodingUnknown {
		return "", i, false // an empty label is no encoding: go on
	}
	return charset, i, true
}

// prescanAttr gets an attribute as the prescan does, from b[i] on: its
// name and value, lower-cased, where the prescan goes on, and false at the
// tag's '>'. It returns next = -1 when it runs out of bytes.
func prescanAttr(b []byte, i int) (name, val string, next int, ok bool) {
	for i < len(b) && (isASCIISpace(b[i]) || b[i] == '/') {
		i++
	}
	if i == len(b) {
		return "", "", -1, false
	}
	if b[i] == '>' {
		return "", "", i, false
	}
	start := i
	for ; ; i++ {
		if i == len(b) {
			return "", "", -1, false
		}
		c := b[i]
		if c == '=' && i > start {
			break
		}
		if isASCIISpace(c) {
			for i < len(b) && isASCIISpace(b[i]) {
				i++
			}
			if i == len(b) {
				return "", "", -1, false
			}
			if b[i] != '=' {
				return lowerString(b[start:i]), "", i, true
			}
			break
		}
		if c == '/' || c == '>' {
			return lowerString(b[start:i]), "", i, true
		}
	}
	name = trimASCIISpace(lowerString(b[start:i]))
	i++ // the '='
	for i < len(b) && isASCIISpace(b[i]) {
		i++
	}
	if i == len(b) {
		return "", "", -1, false
	}
	if q := b[i]; q == '"' || q == '\'' {
		k := bytes.IndexByte(b[i+1:], q)
		if k < 0 {
			return "", "", -1, false
		}
		return name, lowerString(b[i+1 : i+1+k]), i + 1 + k + 1, true
	}
	if b[i] == '>' {
		return name, "", i, true
	}
	start = i
	for i < len(b) && !isASCIISpace(b[i]) && b[i] != '>' {
		i++
	}
	if i == len(b) {
		return "", "", -1, false
	}
	return name, lowerString(b[start:i]), i, true
}

// contentCharset extracts a character encoding from a meta element's
// content value, as the HTML standard does.
func contentCharset(s string) (string, bool) {
	for {
		k := indexFoldASCII(s, "charset")
		if k < 0 {
			return "", false
		}
		s = s[k+len("charset"):]
		t := s
		for t != "" && isASCIISpace(t[0]) {
			t = t[1:]
		}
		if t == "" || t[0] != '=' {
			continue
		}
		t = t[1:]
		for t != "" && isASCIISpace(t[0]) {
			t = t[1:]
		}
		if t == "" {
			return "", false
		}
		if q := t[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(t[1:], q)
			if end < 0 {
				return "", false
			}
			return t[1 : 1+end], true
		}
		end := 0
		for end < len(t) && !isASCIISpace(t[end]) && t[end] != ';' {
			end++
		}
		return t[:end], true
	}
}

func indexFoldASCII(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFoldASCII(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func lowerString(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = asciiLower(c)
	}
	return string(out)
}
