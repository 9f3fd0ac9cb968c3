package rewrite

import (
	"bytes"
	"strings"
	"testing"
)

// TestFastPathsExhaustive holds the fast paths (whole tags and script data
// read within one write) to the tokenizer on every short sequence over small
// alphabets of the bytes and pieces that steer them: quotes, '=', '/', white
// space, '>', a </body> that a value or a script must hide, script escapes,
// and the '<' and '?' that the word tests flag by mistake. Each sequence is
// placed where a fast path reads it (inside a tag, after an attribute
// value, in a script) and followed by a </body> end tag and enough text for
// the fast path to run. The comments case holds the resumable states that
// read comments to the same.
func TestFastPathsExhaustive(t *testing.T) {
	cases := []struct {
		name, prefix string
		alphabet     []string
		length       int
	}{
		{"tag", "<p", []string{"a", " ", "/", "=", `"`, "'", ">", "</body>"}, 6},
		{"attributes", "<p ", []string{"a", " ", "/", "=", `"`, "'", ">", "</body>"}, 6},
		{"attributes after a value", `<p a="x" `, []string{"b", "?", "<", "=", `="`, `"`, "></body>", " "}, 6},
		{"end tag", "</p", []string{"a", " ", "/", "=", `"`, ">", "</body>"}, 5},
		{"comment", "<!--", []string{"a", "-", "!", ">", "</body>"}, 7},
		{"script tag", "<script", []string{"a", " ", "/", "=", `"`, ">", "</body>", "data-chatwidget", "DATA-CHATWIDGET"}, 5},
		{"script", "<script>", []string{"x", "<", "/", "!", "-", ">", " ", "script", "sCrIpT", "</body>"}, 5},
		{"script escapes", "<script>", []string{"<!--", "-->", "<script>", "</script>", "<SCRIPT ", "</script/", "</body>", "<!-", "--", ">", "x"}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.length > 5 {
				tc.length = 5
			}
			seq := make([]int, 0, tc.length)
			var page bytes.Buffer
			n := 0
			var walk func()
			walk = func() {
				page.Reset()
				page.WriteString(tc.prefix)
				for _, k := range seq {
					page.WriteString(tc.alphabet[k])
				}
				page.WriteString(`></body>                `)
				p := page.Bytes()
				n++
				checkFastPath(t, p, n%16 == 0) // the parser judges a sample: it costs 20 times the rest
				if len(seq) == tc.length {
					return
				}
				for k := range tc.alphabet {
					seq = append(seq, k)
					walk()
					seq = seq[:len(seq)-1]
				}
			}
			walk()
		})
	}
}

// TestWatchedNames checks, whole and cut at every offset, the tags whose
// names the scanner acts on, in every case and with attributes: raw-text
// start tags whose text holds a </body>, and the start and end tags that
// mark a document or the insertion point.
func TestWatchedNames(t *testing.T) {
	names := []string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script",
		"style", "textarea", "title", "xmp"}
	var pages []string
	for _, name := range names {
		for _, n := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:]} {
			for _, attrs := range []string{"", ` a="1"`, " a='>'", "/"} {
				pages = append(pages, "<!DOCTYPE html><body><"+n+attrs+">x</body>y</"+n+"></body>")
			}
		}
	}
	pages = append(pages,
		"<HTML><p>x</p>", "<Body class=\"a\"><p>x</p>", "<p>x</p></BODY >y</body>",
		"<p>x</p></Html a='>'>y</body>", "<p>x</p></bodyx></body>", "<p>x</p></htm></body>")
	for _, page := range pages {
		p := []byte(page + "                ")
		exp := checkFastPath(t, p, true)
		for cut := 0; cut <= len(p); cut++ {
			if got := inject(p, cut); !bytes.Equal(got, exp) {
				t.Fatalf("Inject(%q) cut at %d = %q, want %q", p, cut, got, exp)
			}
		}
	}
}

// checkFastPath checks the output for p, a page without markup that steers
// tree construction, in one write: it is where the tokenizer puts the
// snippet, unless the scanner gave up (at a place where x/net/html departs
// from the standard, or where the page ends inside raw text or a tag); and
// if judge, it passes checkPlacement. It returns the output.
func checkFastPath(t *testing.T, p []byte, judge bool) []byte {
	t.Helper()
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	j.Write(p)
	j.Close()
	if exp := want(p, testSnippet); !bytes.Equal(out.Bytes(), exp) && j.refused == "" {
		t.Fatalf("Inject(%q) = %q, want %q", p, out.Bytes(), exp)
	}
	if judge && !bytes.Contains(p, []byte(placementToken)) {
		got, _ := injectOnce(p, placementSnippet)
		checkPlacement(t, p, got, placementSnippet)
	}
	return out.Bytes()
}
