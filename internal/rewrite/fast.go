package rewrite

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// This file holds the fast paths: fastTag and fastScriptTag read a whole
// tag eight bytes at a time, and fastScript reads script data up to its end
// tag by jumping between '<' bytes. They keep no state of their own:
// fastTag and fastScriptTag read only a tag that ends within the write at
// hand and otherwise return where it began, and fastScript hands what it
// does not read (an escape, an end tag cut by the write) to the script
// states, so that the resumable states (scanner.go) read those bytes from
// the state they would have reached themselves: the fast paths may only
// ever agree with them. Below them are the word-at-a-time (SWAR) helpers
// they share.

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

// ltToQuestion sets the high bit of each byte of x that may be one of '<',
// '=', '>' and '?' (0x3c to 0x3f): or-ing 3 into a byte makes those four,
// and no other byte, '?'. The lowest one set is exact; those above it may be
// false. The tag loops look for '=' and '>' with it, and pass over the '<'
// and '?' it flags too.
func ltToQuestion(x uint64) uint64 { return zeroBytes(x | 3*lsb ^ '?'*lsb) }

// tagSpecials sets the high bit of each byte of x that may end a name or an
// unquoted value in a tag: any byte below 0x21 (white space among them),
// '/', and '<' to '?' (for '=' and '>'). The lowest one set is exact for that
// set.
func tagSpecials(x uint64) uint64 {
	return ((x-0x21*lsb)&^x | zeroBytes(x^'/'*lsb) | ltToQuestion(x)) & msb
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
// MarkerAttr, and then moves to script data. It returns the index just
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

// mayHoldMarker reports whether tag holds MarkerAttr in any case.
func mayHoldMarker(tag []byte) bool {
	const dash = len("data")
	for i := dash; i < len(tag); {
		k := bytes.IndexByte(tag[i:], '-')
		if k < 0 {
			return false
		}
		i += k
		if i+len(MarkerAttr)-dash <= len(tag) && bytes.EqualFold(tag[i-dash:i-dash+len(MarkerAttr)], []byte(MarkerAttr)) {
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
			for m := ltToQuestion(x); m != 0; m &= m - 1 {
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
		m := ltToQuestion(binary.LittleEndian.Uint64(p[j:]))
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
