package chatwidget

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/chatwidget/chatwidget/internal/testpage"
)

// TestConstantMemory streams a large page through the middleware and checks
// that the heap does not grow with it. CHATWIDGET_STREAM_MB sets the size
// (default 64 MiB; `CHATWIDGET_STREAM_MB=1024 go test -run ConstantMemory -v .`
// streams 1 GiB).
func TestConstantMemory(t *testing.T) {
	mb := 64
	if s := os.Getenv("CHATWIDGET_STREAM_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		mb = 8
	}
	chunk := testpage.Realistic(64 << 10)
	chunk = chunk[:len(chunk)-len("</body>\n</html>\n")] // no end tags until the very end
	m := newTest(t, fixed(alice), nil)
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak = before
	total := 0
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for total < mb<<20 {
			w.Write(chunk)
			total += len(chunk)
			if total%(16<<20) < len(chunk) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.HeapInuse {
					peak = ms
				}
			}
		}
		w.Write([]byte("</body></html>"))
	}))
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	growth := int64(peak.HeapInuse) - int64(before.HeapInuse)
	t.Logf("streamed %d MiB; heap in use grew by %d bytes at most", total>>20, growth)
	if growth > 1<<20 {
		t.Errorf("heap grew by %d bytes while streaming %d MiB, want under 1 MiB", growth, total>>20)
	}
}

// TestConstantMemoryCompressed streams a large page that the handler
// compresses through the middleware, which decodes and encodes it again,
// and checks that the heap does not grow with it: the coders' state (the
// handler's gzip writer, the middleware's decoder and encoder) is all.
func TestConstantMemoryCompressed(t *testing.T) {
	mb := 64
	if testing.Short() {
		mb = 8
	}
	chunk := testpage.Realistic(64 << 10)
	chunk = chunk[:len(chunk)-len("</body>\n</html>\n")]
	m := newTest(t, fixed(alice), nil)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var samples []int64
	total := 0
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		for total < mb<<20 {
			z.Write(chunk)
			total += len(chunk)
			if total%(8<<20) < len(chunk) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				samples = append(samples, int64(ms.HeapInuse)-int64(before.HeapInuse))
			}
		}
		z.Write([]byte("</body></html>"))
		z.Close()
	}))
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	t.Logf("streamed %d MiB compressed; heap in use grew by %v bytes at each 8 MiB", total>>20, samples)
	for _, g := range samples {
		if g > 8<<20 {
			t.Errorf("heap grew by %d bytes while streaming %d MiB, want under 8 MiB (the coders' state)", g, total>>20)
			break
		}
	}
	if n := len(samples); n >= 2 && samples[n-1]-samples[0] > 1<<20 {
		t.Errorf("heap grew from %d to %d bytes between the first and the last 8 MiB: it grows with the page", samples[0], samples[n-1])
	}
}

// TestLargeCompressedWrite checks that one large Write of a compressed page
// (16 MiB of gzip, stored blocks) is not copied: while none of the
// re-encoded bytes went out, the middleware keeps at most the first 64 KiB
// of the handler's bytes, and a Write that would take it past that bound
// keeps none of them. The heap allocated while serving it stays within the
// coders' state (about 1 MiB when their pools are empty), far under the
// page's size.
func TestLargeCompressedWrite(t *testing.T) {
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
	z.Write(testpage.Realistic(16 << 20))
	z.Close()
	body := b.Bytes()
	m := newTest(t, fixed(alice), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(body)
	}))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil))
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("serving one Write of %d bytes allocated %d bytes, want under 4 MiB (the coders' state): the Write was copied", len(body), got)
	} else {
		t.Logf("one Write of %d bytes: %d bytes allocated", len(body), got)
	}
}
