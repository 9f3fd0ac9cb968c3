package placement

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A page is one page of the corpus.
type page struct {
	name        string   // the file's name without .html, or gen-NNN
	body        []byte   // as written, with the ATTACKER placeholder
	contentType []string // the Content-Type header lines
	encode      string   // "", encUTF16LEBOM or encUTF8BOM
	mustWidget  bool     // a control: it must get the widget, and run it
	neverWidget bool     // it must get no widget: it is served byte for byte as written
	noAttacker  bool     // it may make no request to the attacker at all
	click       string   // a CSS selector to click after the load
	generated   bool
}

// xhtml reports whether the page is served as XHTML.
func (p *page) xhtml() bool {
	for _, ct := range p.contentType {
		if strings.HasPrefix(strings.TrimSpace(strings.ToLower(ct)), "application/xhtml+xml") {
			return true
		}
	}
	return false
}

// defaultContentType is a page's type unless it says otherwise.
const defaultContentType = "text/html; charset=utf-8"

// directive is a line of a page's first comment such as "@widget: must".
var directive = regexp.MustCompile(`(?m)^\s*@([a-z-]+):\s*(.*?)\s*(?:-->)?\s*$`)

// loadHostile reads testdata/hostile, one page per file, with the directives
// of each file's first comment.
func loadHostile(t *testing.T) []*page {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.html"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pages in testdata/hostile (%v)", err)
	}
	var pages []*page
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parsePage(strings.TrimSuffix(filepath.Base(f), ".html"), b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		pages = append(pages, p)
	}
	return pages
}

// parsePage reads the directives of a page's first comment, which must open
// the file and say what the page tries.
func parsePage(name string, b []byte) (*page, error) {
	p := &page{name: name, body: b}
	rest, ok := bytes.CutPrefix(b, []byte("<!--"))
	end := bytes.Index(rest, []byte("-->"))
	if !ok || end < 0 {
		return nil, fmt.Errorf("the page must open with a comment that says what it tries")
	}
	for _, m := range directive.FindAllSubmatch(rest[:end+len("-->")], -1) {
		key, val := string(m[1]), string(m[2])
		switch key {
		case "content-type":
			p.contentType = append(p.contentType, val)
		case "encode":
			if val != encUTF16LEBOM && val != encUTF8BOM {
				return nil, fmt.Errorf("@encode: %q, want %q or %q", val, encUTF16LEBOM, encUTF8BOM)
			}
			p.encode = val
		case "widget":
			switch val {
			case "must":
				p.mustWidget = true
			case "never":
				p.neverWidget = true
			default:
				return nil, fmt.Errorf("@widget: %q, want must or never", val)
			}
		case "attacker":
			if val != "none" {
				return nil, fmt.Errorf("@attacker: %q, want none", val)
			}
			p.noAttacker = true
		case "click":
			p.click = val
		default:
			return nil, fmt.Errorf("unknown directive @%s", key)
		}
	}
	if p.contentType == nil {
		p.contentType = []string{defaultContentType}
	}
	return p, nil
}

// pieces are what the generated pages are made of: the tags and bytes that
// switch HTML tree construction between its modes (foreign content and its
// integration points, template, noscript, select, CDATA, raw text, script
// escapes, attribute values).
var pieces = []string{
	`<svg>`, `<math>`, `</svg>`, `</math>`, `<foreignObject>`, `</foreignObject>`, `<desc>`,
	`<title>`, `</title>`, `<mi>`, `<annotation-xml encoding="text/html">`, `<template>`,
	`</template>`, `<noscript>`, `</noscript>`, `<select>`, `</select>`, `<![CDATA[`, `]]>`,
	`<p>`, `<b>`, `</b>`, `<font color=x>`, `<style>`, `</style>`, `<textarea>`, `</textarea>`,
	`<xmp>`, `</xmp>`, `<script>`, `</script>`, `<!--`, `-->`, `<a title="`, `"`, `'`, `>`,
	`<img src='ATTACKER/?`, `</body>`, `</html>`, `text`,
}

// starts are how a generated page may begin.
var starts = []string{"", "<!DOCTYPE html>", "<!DOCTYPE html><body>"}

// generatedCount returns how many random pages to make: $CHATWIDGET_PLACEMENT_N,
// or 60.
func generatedCount(t *testing.T) int {
	t.Helper()
	s := os.Getenv("CHATWIDGET_PLACEMENT_N")
	if s == "" {
		return 60
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("CHATWIDGET_PLACEMENT_N=%q: want a count", s)
	}
	return n
}

// ciSeed is the generated corpus's seed in CI, so that a run there is the
// same every time; by hand, each run draws a new one.
const ciSeed = 20261201

// generatedSeed returns $CHATWIDGET_PLACEMENT_SEED, else ciSeed in CI, else a
// new seed.
func generatedSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv("CHATWIDGET_PLACEMENT_SEED")
	switch {
	case s == "" && os.Getenv("CI") != "":
		return ciSeed
	case s == "":
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("CHATWIDGET_PLACEMENT_SEED=%q: want a number", s)
	}
	return n
}

// generate returns n pages of 1 to 12 random pieces, each page followed by
// </body></html>.
func generate(n int, seed uint64) []*page {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pages := make([]*page, n)
	for i := range pages {
		var b strings.Builder
		b.WriteString(starts[r.IntN(len(starts))])
		for range 1 + r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteString("</body></html>")
		pages[i] = &page{
			name:        fmt.Sprintf("gen-%03d", i),
			body:        []byte(b.String()),
			contentType: []string{defaultContentType},
			generated:   true,
		}
	}
	return pages
}
