package chatwidget

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// realisticPage returns an HTML page of about size bytes with what real
// pages carry: a head with styles and scripts, comments, nested markup with
// many attributes, inline scripts that hold "<" and "</", and text.
func realisticPage(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shop &amp; more</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css?v=123">
<style>body{font:14px/1.4 system-ui}.card>a{color:#333}.x:hover{opacity:.8}</style>
<script>window.dataLayer=window.dataLayer||[];function g(){dataLayer.push(arguments)}if(1<2){g("</div>")}</script>
</head><body class="home page">
<!-- header -->
<header id="top" class="site-header" data-sticky="true"><nav aria-label="main"><ul>`)
	for i := 0; b.Len() < size-600; i++ {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, `<li class="nav-item"><a href="/c/%d" title="Category %d" data-id="%d">Category %d</a></li>`+"\n", i, i, i, i)
		case 1:
			fmt.Fprintf(&b, `<div class="card product" id="p%d" data-price="%d.99" data-json='{"a":"</body>"}'><img src="/img/%d.jpg" alt="Product %d" loading="lazy" width="320" height="240"><h3>Product %d</h3><p>A fine thing, only $%d.99 &ndash; while stocks last.</p></div>`+"\n", i, i, i, i, i, i)
		case 2:
			fmt.Fprintf(&b, "<!-- product %d: </body> is not here -->\n", i)
		case 3:
			fmt.Fprintf(&b, `<script type="application/ld+json">{"@type":"Product","name":"P%d","offers":{"price":"%d"}}</script>`+"\n", i, i)
		case 4:
			fmt.Fprintf(&b, "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. %d</p>\n", i)
		case 5:
			fmt.Fprintf(&b, `<form action="/cart" method="post"><input type="hidden" name="id" value="%d"><button type="submit" class="btn btn-primary" onclick="return a&lt;b">Add</button></form>`+"\n", i)
		}
	}
	b.WriteString(`</ul></nav></header><footer><p>&copy; 2026</p></footer>
<script src="/static/app.js" defer></script>
</body>
</html>
`)
	return b.Bytes()
}

// svgPage returns realisticPage with what sites put in SVG: an inline icon
// with a <title> in every link of the navigation, and a logo whose <svg>
// holds a <style>, so that the rewriter follows foreign content and
// integration points all through the page.
func svgPage(size int) []byte {
	const icon = `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><title>Go</title><path d="M4 12h16M12 4l8 8-8 8" stroke="currentColor" fill="none"/></svg>`
	const logo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" role="img"><style>.l{fill:#0a7;font:700 20px sans-serif}</style><defs><linearGradient id="g"><stop offset="0" stop-color="#0a7"/><stop offset="1" stop-color="#07a"/></linearGradient></defs><rect width="120" height="40" rx="6" fill="url(#g)"/><text class="l" x="10" y="27">Shop</text></svg>`
	page := realisticPage(size)
	page = bytes.Replace(page, []byte(`<header id="top"`), []byte(logo+`<header id="top"`), 1)
	page = bytes.ReplaceAll(page, []byte(`">Category `), []byte(`">`+icon+`Category `))
	return page
}

// benchPages are the pages the rewriter and the tokenizer are measured on.
var benchPages = []struct {
	name string
	page func() []byte
}{
	{"10KB", func() []byte { return realisticPage(10 << 10) }},
	{"100KB", func() []byte { return realisticPage(100 << 10) }},
	{"1MB", func() []byte { return realisticPage(1 << 20) }},
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
				j.reset(io.Discard, snippet)
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
	page := realisticPage(100 << 10)
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

// discardWriter is a ResponseWriter that keeps headers and drops the body.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Flush()                      {}

// chunked serves body with the given content type, in writes of 4 KB.
func chunked(ct string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		for i := 0; i < len(body); i += 4096 {
			w.Write(body[i:min(i+4096, len(body))])
		}
	})
}

// BenchmarkMiddleware serves a page through ServeHTTP with a logged-in
// visitor, beside the bare handler. The json-10KB handler only copies bytes,
// the least a handler can do, so the wrapper's fixed cost shows in full;
// json-10KB-fetch is the same asked for by fetch() (Sec-Fetch-Dest: empty),
// which the middleware does not wrap; json-10KB-encode encodes about 12 KB
// with encoding/json, as an API does.
func BenchmarkMiddleware(b *testing.B) {
	json10K := []byte(`{"items":[` + strings.Repeat(`{"id":12345,"name":"product </body>","price":9.99},`, 200) + `{}]}`)[:10<<10]
	type product struct {
		ID    int     `json:"id"`
		Name  string  `json:"name"`
		Price float64 `json:"price"`
	}
	products := make([]product, 200)
	for i := range products {
		products[i] = product{12345 + i, "product </body>", 9.99}
	}
	encode := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(map[string]any{"items": products}); err != nil {
			b.Error(err)
		}
	})
	rec := httptest.NewRecorder()
	encode.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cases := []struct {
		name string
		size int
		bare http.Handler
		dest string // Sec-Fetch-Dest, if any
	}{
		{"html-100KB", 100 << 10, chunked("text/html; charset=utf-8", realisticPage(100<<10)), ""},
		{"html-100KB-latin1", 100 << 10, chunked("text/html; charset=iso-8859-1", realisticPage(100<<10)), ""},
		{"html-100KB-nocharset", 100 << 10, chunked("text/html", realisticPage(100<<10)), ""},
		{"json-10KB", len(json10K), chunked("application/json", json10K), ""},
		{"json-10KB-fetch", len(json10K), chunked("application/json", json10K), "empty"},
		{"json-10KB-encode", rec.Body.Len(), encode, ""},
	}
	m := newTest(b, fixed(alice), nil)
	for _, tc := range cases {
		for _, v := range []struct {
			name string
			h    http.Handler
		}{{"bare", tc.bare}, {"injected", m.Handler(tc.bare)}} {
			b.Run(tc.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(tc.size))
				b.ReportAllocs()
				req := httptest.NewRequest("GET", "/", nil)
				if tc.dest != "" {
					req.Header.Set("Sec-Fetch-Dest", tc.dest)
				}
				w := &discardWriter{h: http.Header{}}
				for b.Loop() {
					clear(w.h)
					v.h.ServeHTTP(w, req)
				}
			})
		}
	}
}

// BenchmarkSign measures a token: signed on every call (cold), and taken
// from the cache (cached).
func BenchmarkSign(b *testing.B) {
	b.Run("cold", func(b *testing.B) {
		m := newTest(b, fixed(nil), nil, WithTokenCacheBytes(0))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.signer.token(alice); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		m := newTest(b, fixed(nil), nil, WithTTL(time.Hour))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.signer.token(alice); err != nil {
				b.Fatal(err)
			}
		}
	})
}
