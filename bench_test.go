package chatwidget

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chatwidget/chatwidget/internal/testpage"
	kgzip "github.com/klauspost/compress/gzip"
)

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

// compressing serves body as an HTML page compressed in coding (gzip at
// level 5 or br at quality 4, the middleware's own levels), as a handler
// that compresses its pages does: through a pooled compressor, in writes of
// 4 KB.
func compressing(coding string, body []byte) http.Handler {
	var pool sync.Pool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", coding)
		w.Header().Set("Vary", "Accept-Encoding")
		z, _ := pool.Get().(encoder)
		switch {
		case z != nil && coding == "br":
			z.(*brotli.Writer).Reset(w)
		case z != nil:
			z.(*kgzip.Writer).Reset(w)
		case coding == "br":
			z = brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliLGWin})
		default:
			z, _ = kgzip.NewWriterLevel(w, flateLevel)
		}
		for i := 0; i < len(body); i += 4096 {
			z.Write(body[i:min(i+4096, len(body))])
		}
		z.Close()
		pool.Put(z)
	})
}

// gzipOutside compresses what h writes with gzip at level 5: compression
// on the way out, the other design (the middleware sees the page
// uncompressed). Its injected case wraps the middleware inside it.
func gzipOutside(h http.Handler) http.Handler {
	var pool sync.Pool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		z, _ := pool.Get().(*kgzip.Writer)
		if z == nil {
			z, _ = kgzip.NewWriterLevel(w, flateLevel)
		} else {
			z.Reset(w)
		}
		h.ServeHTTP(gzipWriter{w, z}, r)
		z.Close()
		pool.Put(z)
	})
}

// gzipWriter writes its body through z.
type gzipWriter struct {
	http.ResponseWriter
	z *kgzip.Writer
}

func (g gzipWriter) Write(p []byte) (int, error) { return g.z.Write(p) }

// BenchmarkMiddleware serves a page through ServeHTTP with a logged-in
// visitor, beside the bare handler. The -gzip and -br handlers compress
// the page themselves: the middleware decodes it, inserts the widget and
// encodes it again. The json-10KB handler only copies bytes,
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
		{"html-100KB", 100 << 10, chunked("text/html; charset=utf-8", testpage.Realistic(100<<10)), ""},
		{"html-100KB-latin1", 100 << 10, chunked("text/html; charset=iso-8859-1", testpage.Realistic(100<<10)), ""},
		{"html-100KB-nocharset", 100 << 10, chunked("text/html", testpage.Realistic(100<<10)), ""},
		{"html-100KB-gzip", 100 << 10, compressing("gzip", testpage.Realistic(100<<10)), ""},
		{"html-100KB-br", 100 << 10, compressing("br", testpage.Realistic(100<<10)), ""},
		{"html-100KB-gzip-outside", 100 << 10, gzipOutside(chunked("text/html; charset=utf-8", testpage.Realistic(100<<10))), ""},
		{"json-10KB", len(json10K), chunked("application/json", json10K), ""},
		{"json-10KB-fetch", len(json10K), chunked("application/json", json10K), "empty"},
		{"json-10KB-encode", rec.Body.Len(), encode, ""},
	}
	m := newTest(b, fixed(alice), nil)
	for _, tc := range cases {
		for _, v := range []struct {
			name string
			h    http.Handler
		}{{"bare", tc.bare}, {"injected", injected(m, tc.name, tc.bare)}} {
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

// injected returns bare wrapped by m; for the -outside case, m goes inside
// the compression.
func injected(m *Middleware, name string, bare http.Handler) http.Handler {
	if strings.HasSuffix(name, "-outside") {
		return gzipOutside(m.Handler(chunked("text/html; charset=utf-8", testpage.Realistic(100<<10))))
	}
	return m.Handler(bare)
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
