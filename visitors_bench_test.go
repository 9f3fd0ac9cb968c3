package chatwidget

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/internal/testpage"
)

// typicalVisitor returns the i-th of many distinct logged-in visitors,
// each with the data a shop hands the agent; with ES256 their tokens take
// about 1 KB, the size the default cache budget is reckoned in.
func typicalVisitor(i int) *Visitor {
	id := fmt.Sprintf("u-%07d", i)
	return &Visitor{
		Name:    fmt.Sprintf("Visitor %07d Example-Surname", i),
		Email:   fmt.Sprintf("visitor.%07d@mail.example.com", i),
		Subject: id,
		Fields: map[string]any{
			"User ID":      id,
			"Telephone":    fmt.Sprintf("+1 555 %07d", i),
			"Plan":         []string{"Free", "Pro", "Business"}[i%3],
			"Orders":       i % 97,
			"Lifetime":     float64(i%5000) + 0.99,
			"VIP":          i%10 == 0,
			"Company":      fmt.Sprintf("Company %d Trading Ltd.", i%1000),
			"Address":      fmt.Sprintf("%d Long Street, Apartment %d, Springfield, 12345", i%900, i%77),
			"Last order":   fmt.Sprintf("2026-11-%02d #%09d", 1+i%28, i*7),
			"Signed up":    fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28),
			"Language":     "en-GB",
			"Account page": fmt.Sprintf("https://admin.shop.example/customers/%s/overview", id),
		},
	}
}

// benchVisitors is a middleware that signs with ES256 (a miss costs tens
// of microseconds, not a millisecond: these benchmarks measure the cache)
// and serves the 10 KB page to visitors[next()].
type benchVisitors struct {
	m        *Middleware
	h        http.Handler
	visitors []*Visitor
}

type benchVisitorKey struct{}

func newBenchVisitors(b *testing.B, n int) *benchVisitors {
	b.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	bv := &benchVisitors{visitors: make([]*Visitor, n)}
	for i := range bv.visitors {
		bv.visitors[i] = typicalVisitor(i)
	}
	// Each request names its visitor in its context (an *int), so that
	// parallel goroutines each keep their own sequence.
	resolver := ResolverFunc(func(r *http.Request) (*Visitor, error) {
		return bv.visitors[*r.Context().Value(benchVisitorKey{}).(*int)], nil
	})
	bv.m, err = New("bench-widget", KeySigner(k), resolver, WithAlgorithm(ES256), WithTTL(time.Hour), WithLogger(discardLogger()),
		WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`))
	if err != nil {
		b.Fatal(err)
	}
	bv.h = bv.m.Handler(chunked("text/html; charset=utf-8", testpage.Realistic(10<<10)))
	return bv
}

// warm signs every visitor's token once and measures the memory that took
// per visitor: on the heap, and as the cache counts it.
func (bv *benchVisitors) warm(b *testing.B) (heap, counted float64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, v := range bv.visitors {
		if _, err := bv.m.signer.token(v); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := bv.m.Stats()
	if st.TokenCacheEntries != uint64(len(bv.visitors)) {
		b.Fatalf("cache holds %d of %d visitors after the warm-up", st.TokenCacheEntries, len(bv.visitors))
	}
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(bv.visitors)),
		float64(st.TokenCacheBytes) / float64(st.TokenCacheEntries)
}

// reportMemory reports what warm measured.
func reportMemory(b *testing.B, heap, counted float64) {
	b.ReportMetric(heap, "heap-B/visitor")
	b.ReportMetric(counted, "cache-B/visitor")
}

// loop serves the page to visitor next() for each iteration, with a
// request whose context names the visitor.
func (bv *benchVisitors) loop(b *testing.B, next func() int) {
	b.Helper()
	var i int
	req := httptest.NewRequest("GET", "/", nil).WithContext(context.WithValue(context.Background(), benchVisitorKey{}, &i))
	w := &discardWriter{h: http.Header{}}
	before := bv.m.Stats()
	b.SetBytes(10 << 10)
	b.ReportAllocs()
	for b.Loop() {
		i = next()
		clear(w.h)
		bv.h.ServeHTTP(w, req)
	}
	bv.report(b, before)
}

// report adds the hit ratio and the signatures per request since before.
func (bv *benchVisitors) report(b *testing.B, before Stats) {
	st := bv.m.Stats()
	hits, misses := st.TokenCacheHits-before.TokenCacheHits, st.TokenCacheMisses-before.TokenCacheMisses
	b.ReportMetric(float64(hits)/float64(max(hits+misses, 1)), "hits/lookup")
	b.ReportMetric(float64(st.TokensSigned-before.TokensSigned)/float64(max(hits+misses, 1)), "signs/lookup")
}

// BenchmarkVisitors serves a logged-in 10 KB page through ServeHTTP, each
// request from the next of n distinct visitors in turn, after a warm-up in
// which each was seen once: the cost of a page must not grow with the
// number of visitors (n=100000 within 1.3 times n=1). zipf-2x-budget serves
// a skewed mix (Zipf, s = 1.1) over twice the visitors the default budget
// holds, misses signing with ES256 in the timed loop.
func BenchmarkVisitors(b *testing.B) {
	for _, n := range []int{1, 1000, 10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			bv := newBenchVisitors(b, n)
			heap, counted := bv.warm(b)
			i := 0
			bv.loop(b, func() int {
				if i++; i == n {
					i = 0
				}
				return i
			})
			reportMemory(b, heap, counted)
		})
	}
	b.Run("zipf-2x-budget", func(b *testing.B) {
		tok, err := newBenchVisitors(b, 1).m.signer.token(typicalVisitor(0))
		if err != nil {
			b.Fatal(err)
		}
		n := int(2 * DefaultTokenCacheBytes / charge(len(tok.token)))
		bv := newBenchVisitors(b, n)
		z := mrand.NewZipf(mrand.New(mrand.NewPCG(1, 2)), 1.01, 1, uint64(n-1))
		for range 1 << 20 { // the warm-up: enough requests to fill the cache and more
			if _, err := bv.m.signer.token(bv.visitors[z.Uint64()]); err != nil {
				b.Fatal(err)
			}
		}
		if st := bv.m.Stats(); st.TokenCacheEvictions == 0 {
			b.Fatalf("no eviction in the warm-up: %+v", st)
		}
		bv.loop(b, func() int { return int(z.Uint64()) })
		b.ReportMetric(float64(n), "visitors")
	})
}

// BenchmarkVisitorsParallel is BenchmarkVisitors from every core at once
// (b.RunParallel), so that contention for the cache's locks shows: n=1
// sends every request to one shard, n=100000 spreads them.
func BenchmarkVisitorsParallel(b *testing.B) {
	for _, n := range []int{1, 100000} {
		// Made once: b.Run calls a RunParallel benchmark again for each b.N.
		bv := newBenchVisitors(b, n)
		heap, counted := bv.warm(b)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			before := bv.m.Stats()
			var start atomic.Int64
			b.SetBytes(10 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(start.Add(7919)) % n
				req := httptest.NewRequest("GET", "/", nil).WithContext(context.WithValue(context.Background(), benchVisitorKey{}, &i))
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					if i++; i >= n {
						i = 0
					}
					clear(w.h)
					bv.h.ServeHTTP(w, req)
				}
			})
			bv.report(b, before)
			reportMemory(b, heap, counted)
		})
	}
}
