package rewrite

import (
	"bytes"
	"io"
	"testing"

	"github.com/chatwidget/chatwidget/internal/testpage"
	"golang.org/x/net/html"
)

// svgPage returns testpage.Realistic with what sites put in SVG: an inline
// icon with a <title> in every link of the navigation, and a logo whose
// <svg> holds a <style>, so that the rewriter follows foreign content and
// integration points all through the page.
func svgPage(size int) []byte {
	const icon = `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><title>Go</title><path d="M4 12h16M12 4l8 8-8 8" stroke="currentColor" fill="none"/></svg>`
	const logo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" role="img"><style>.l{fill:#0a7;font:700 20px sans-serif}</style><defs><linearGradient id="g"><stop offset="0" stop-color="#0a7"/><stop offset="1" stop-color="#07a"/></linearGradient></defs><rect width="120" height="40" rx="6" fill="url(#g)"/><text class="l" x="10" y="27">Shop</text></svg>`
	page := testpage.Realistic(size)
	page = bytes.Replace(page, []byte(`<header id="top"`), []byte(logo+`<header id="top"`), 1)
	page = bytes.ReplaceAll(page, []byte(`">Category `), []byte(`">`+icon+`Category `))
	return page
}

// benchPages are the pages the rewriter and the tokenizer are measured on.
var benchPages = []struct {
	name string
	page func() []byte
}{
	{"10KB", func() []byte { return testpage.Realistic(10 << 10) }},
	{"100KB", func() []byte { return testpage.Realistic(100 << 10) }},
	{"1MB", func() []byte { return testpage.Realistic(1 << 20) }},
	{"100KB-svg", func() []byte { return svgPage(100 << 10) }},
}

// BenchmarkRewrite measures the injector alone, fed in writes of 4 KB.
func BenchmarkRewrite(b *testing.B) {
	snippet := []byte(testSnippet)
	for _, bp := range benchPages {
		page := bp.page()
		b.Run(bp.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			j := newInjector(io.Discard, snippet)
			for b.Loop() {
				j.resetSnippet(io.Discard, snippet)
				for i := 0; i < len(page); i += 4096 {
					j.Write(page[i:min(i+4096, len(page))])
				}
				j.Close()
			}
		})
	}
}

// BenchmarkTokenizer measures x/net/html's tokenizer over the same pages,
// the baseline the rewriter is compared with in the same run.
func BenchmarkTokenizer(b *testing.B) {
	for _, bp := range benchPages {
		page := bp.page()
		b.Run(bp.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				z := html.NewTokenizer(bytes.NewReader(page))
				for z.Next() != html.ErrorToken {
				}
			}
		})
	}
}

// BenchmarkBounds gives two loops over the 100 KB page to compare the
// rewriter with: one that only finds each '<' (find-lt), and one that pairs
// each '<' with the next '>' and so ignores quotes, comments and raw text
// (pair-lt-gt). Neither gives the tokenizer's answer.
func BenchmarkBounds(b *testing.B) {
	page := testpage.Realistic(100 << 10)
	for _, pair := range []bool{false, true} {
		name := "find-lt"
		if pair {
			name = "pair-lt-gt"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			tags := 0
			for b.Loop() {
				for i := 0; i < len(page); i += 4096 {
					p := page[i:min(i+4096, len(page))]
					for j := 0; ; tags++ {
						k := bytes.IndexByte(p[j:], '<')
						if k < 0 {
							break
						}
						j += k + 1
						if pair {
							if k = bytes.IndexByte(p[j:], '>'); k < 0 {
								break
							}
							j += k + 1
						}
					}
				}
			}
			if tags == 0 {
				b.Fatal("no tags found")
			}
		})
	}
}
