package chatwidget

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/chatwidget/chatwidget/internal/rewrite"
	"github.com/chatwidget/chatwidget/internal/testpage"
	"github.com/klauspost/compress/zstd"
)

// A testCoding compresses and decompresses as a handler and a browser
// would. gzip and deflate use the standard library's coders, not those the
// middleware uses; br and zstd have no second implementation in this
// module (the examples' browser tests decode them with Chromium's).
type testCoding struct {
	name, header string
	writer       func(io.Writer) interface {
		io.WriteCloser
		Flush() error
	}
	reader func(io.Reader) (io.Reader, error)
}

var testCodings = []testCoding{
	{"gzip", "gzip",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			return gzip.NewWriter(w)
		},
		func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"x-gzip", "x-gzip",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			z, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
			return z
		},
		func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"deflate (zlib)", "deflate",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			return zlib.NewWriter(w)
		},
		func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
	{"deflate (raw)", "Deflate",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			z, _ := flate.NewWriter(w, flate.BestSpeed)
			return z
		},
		func(r io.Reader) (io.Reader, error) { return flate.NewReader(r), nil }},
	{"br", "br",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			return brotli.NewWriterLevel(w, 6)
		},
		func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
	{"zstd", "zstd",
		func(w io.Writer) interface {
			io.WriteCloser
			Flush() error
		} {
			z, _ := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
			return z
		},
		func(r io.Reader) (io.Reader, error) {
			z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return z.IOReadCloser(), nil
		}},
}

// compress returns page compressed with c.
func (c testCoding) compress(t testing.TB, page []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := c.writer(&b)
	if _, err := w.Write(page); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decompress returns b decompressed with c.
func (c testCoding) decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := c.reader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: decoding the response: %v", c.name, err)
	}
	return out
}

// compressingHandler serves page compressed with c, in writes of chunk
// bytes of the compressed stream, with the headers a handler that
// compresses its pages sets.
func compressingHandler(c testCoding, page []byte, chunk int, header ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Encoding", c.header)
		h.Set("Vary", "Accept-Encoding")
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		var b bytes.Buffer
		z := c.writer(&b)
		z.Write(page)
		z.Close()
		body := b.Bytes()
		h.Set("Content-Length", fmt.Sprint(len(body)))
		for i := 0; i < len(body); i += chunk {
			w.Write(body[i:min(i+chunk, len(body))])
		}
	})
}

// decoderGoroutines returns the stacks of the decoders' goroutines that are
// left waiting. One that is runnable or running has closed its output (the
// join) and is only returning: the join happened, and the goroutine may be
// caught between its last deferred call and its exit.
func decoderGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "chatwidget.(*decodeRun).decode") && !strings.Contains(g, " [runnable]:") && !strings.Contains(g, " [running]:") {
			left = append(left, g)
		}
	}
	return left
}

// TestCompressedPages checks that a page the handler compresses gets the
// widget in every coding the middleware decodes, whatever the write
// boundaries: the response is in the handler's coding, decodes to the page
// the middleware makes of the uncompressed page, has no Content-Length any
// more, keeps the handler's Vary and gains no Accept-Encoding, and no
// decoder's goroutine is left.
func TestCompressedPages(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	pages := map[string][]byte{"small": []byte(page), "100KB": testpage.Realistic(100 << 10)}
	for _, c := range testCodings {
		for name, p := range pages {
			want := serve(m.Handler(htmlHandler(string(p))), httptest.NewRequest("GET", "/", nil)).Body.Bytes()
			if !bytes.Contains(want, []byte(rewrite.MarkerAttr)) {
				t.Fatalf("the uncompressed %s page got no widget", name)
			}
			for _, chunk := range []int{1, 7, 4096, 1 << 20} {
				if chunk == 1 && name != "small" {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/writes of %d", c.name, name, chunk), func(t *testing.T) {
					req := httptest.NewRequest("GET", "/", nil)
					req.Header.Set("Sec-Fetch-Dest", "document")
					rec := serve(m.Handler(compressingHandler(c, p, chunk)), req)
					h := rec.Header()
					if got := h.Get("Content-Encoding"); got != c.header {
						t.Errorf("Content-Encoding = %q, want %q", got, c.header)
					}
					if got := h.Get("Content-Length"); got != "" {
						t.Errorf("Content-Length = %q, want none", got)
					}
					if v := strings.Join(h.Values("Vary"), ", "); !strings.HasPrefix(v, "Accept-Encoding, ") || strings.Count(v, "Accept-Encoding") != 1 {
						t.Errorf("Vary = %q, want the handler's Accept-Encoding once, then the page's", v)
					}
					if got := c.decompress(t, rec.Body.Bytes()); !bytes.Equal(got, want) {
						t.Errorf("decoded body = %.200q…, want %.200q… (the uncompressed page through the middleware)", got, want)
					}
					if left := decoderGoroutines(); len(left) > 0 {
						t.Errorf("decoder goroutines left after ServeHTTP:\n%s", strings.Join(left, "\n\n"))
					}
				})
			}
		}
	}
}

// TestCompressedPassThrough checks what stays as it was: a compressed page
// asked for by fetch() (it only gets the page's Vary), a HEAD request (the
// headers of the GET page, no body), a JSON response, and an empty body.
func TestCompressedPassThrough(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	gz := testCodings[0]
	body := gz.compress(t, []byte(page))
	tests := []struct {
		name, method, dest string
		h                  http.Handler
		want               []byte
	}{
		{"fetch", "GET", "empty", compressingHandler(gz, []byte(page), 4096), body},
		{"json", "GET", "document", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(body)
		}), body},
		{"empty", "GET", "document", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusOK)
		}), nil},
		{"head", "HEAD", "document", compressingHandler(gz, []byte(page), 4096), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", nil)
			req.Header.Set("Sec-Fetch-Dest", tc.dest)
			rec := httptest.NewRecorder()
			m.Handler(tc.h).ServeHTTP(rec, req)
			if got := rec.Body.Bytes(); !bytes.Equal(got, tc.want) && !(tc.method == "HEAD" && len(got) == 0) {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
			if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
				t.Errorf("Content-Encoding = %q, want gzip", got)
			}
		})
	}
	if n := m.Stats().PagesRefused; n != 0 {
		t.Errorf("Stats().PagesRefused = %d, want 0", n)
	}
}

// TestCompressedFlush checks that a handler that flushes its compressor and
// then the ResponseWriter has the bytes reach the client decoded and
// encoded again, before it writes on, over a real server, in every coding.
func TestCompressedFlush(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	const head = "<!DOCTYPE html><html><head><title>t</title></head><body><p>first part</p>"
	const tail = "<p>second part</p></body></html>"
	for _, c := range testCodings {
		t.Run(c.name, func(t *testing.T) {
			proceed := make(chan struct{})
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Content-Encoding", c.header)
				z := c.writer(w)
				io.WriteString(z, head)
				z.Flush()
				w.(http.Flusher).Flush()
				<-proceed
				io.WriteString(z, tail)
				z.Close()
			})))
			defer srv.Close()
			defer func() {
				select {
				case <-proceed:
				default:
					close(proceed)
				}
			}()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Sec-Fetch-Dest", "document")
			req.Header.Set("Accept-Encoding", c.header)
			res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r, err := c.reader(bufio.NewReader(res.Body))
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(head))
			if _, err := io.ReadFull(r, got); err != nil || string(got) != head {
				t.Fatalf("before the handler wrote on, the client read %q, %v; want %q", got, err, head)
			}
			close(proceed)
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(rest), "</body></html>") || !strings.Contains(string(rest), rewrite.MarkerAttr) {
				t.Errorf("the rest = %q, want the second part with the widget", rest)
			}
		})
	}
}

// TestUndecodableBody checks a body that does not decode as its
// Content-Encoding says. While none of the re-encoded bytes went out (the
// first 64 KiB of the handler's body, or until a Flush), the body goes out
// as the handler wrote it; later, the client gets what was decoded up to
// there and the response is aborted, so that a truncated page cannot pass
// for a whole one. Each is logged as a warning and counted.
func TestUndecodableBody(t *testing.T) {
	gz := testCodings[0]
	whole := gz.compress(t, []byte(page))
	truncated := whole[:len(whole)-6]
	corrupt := append([]byte(nil), whole...)
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name string
		body []byte
	}{
		{"not gzip", []byte("<!DOCTYPE html><body>plain, though the header says gzip</body>")},
		{"truncated", truncated},
		{"corrupt", corrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			m := newTest(t, fixed(alice), logs)
			rec := serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(tc.body)
			})), httptest.NewRequest("GET", "/", nil))
			if !bytes.Equal(rec.Body.Bytes(), tc.body) {
				t.Errorf("body = %q, want the handler's bytes untouched", rec.Body.Bytes())
			}
			if st := m.Stats(); st.Refused.Undecodable != 1 || st.PagesRefused != 1 {
				t.Errorf("Stats() = %+v, want one undecodable page", st)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "closes it before returning") {
				t.Errorf("logs = %q, want a warning that names the fix", logs.String())
			}
		})
	}

	t.Run("midway", func(t *testing.T) {
		// A page that compresses to far more than 64 KiB, whose stream
		// turns bad three quarters through: after a sync flush, a block of
		// the reserved type.
		m := newTest(t, fixed(alice), nil)
		var text bytes.Buffer
		text.WriteString("<!DOCTYPE html><html><body><p>")
		rnd := uint64(1)
		for text.Len() < 1<<20 {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			fmt.Fprintf(&text, "%x ", rnd>>20)
		}
		good := text.Bytes()[:text.Len()*3/4]
		var bad bytes.Buffer
		zw := gzip.NewWriter(&bad)
		zw.Write(good)
		zw.Flush()
		bad.WriteString("\x07 and the rest")
		if bad.Len() < 4*maxRaw {
			t.Fatalf("the bad stream is %d bytes, want over %d", bad.Len(), 4*maxRaw)
		}
		srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			b := bad.Bytes()
			for i := 0; i < len(b); i += 4096 {
				w.Write(b[i:min(i+4096, len(b))])
			}
			w.Write([]byte("</p></body></html>")) // dropped: nothing after the break can be read
		})))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err == nil {
			t.Errorf("read the whole response (%d bytes), want an aborted one", len(got))
		}
		zr, err := gzip.NewReader(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := io.ReadAll(zr)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("decoding what came = %v, want io.ErrUnexpectedEOF: a stream that stops before its end", err)
		}
		if !bytes.Equal(dec, good) {
			t.Errorf("decoded %d bytes, want the %d before the break", len(dec), len(good))
		}
		if n := m.Stats().Refused.Undecodable; n != 1 {
			t.Errorf("Stats().Refused.Undecodable = %d, want 1", n)
		}
	})
}

// TestUnknownEncoding checks that a page in a coding the middleware does not
// decode passes untouched, and is logged as a warning that names the fix,
// once per interval, and counted.
func TestUnknownEncoding(t *testing.T) {
	logs := &logBuffer{}
	m := newTest(t, fixed(alice), logs)
	for _, ce := range []string{"compress", "gzip, br", "dcb"} {
		rec := serve(m.Handler(htmlHandler(page, "Content-Encoding", ce)), httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != page {
			t.Errorf("Content-Encoding %q: body = %q, want it untouched", ce, rec.Body.String())
		}
	}
	if st := m.Stats(); st.Refused.Encoding != 3 || st.PagesRefused != 3 {
		t.Errorf("Stats() = %+v, want three pages refused for their encoding", st)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), `reason=compress`) || !strings.Contains(logs.String(), "gzip, deflate, br or zstd") {
		t.Errorf("logs = %q, want one warning (the interval), naming the encoding and the fix", logs.String())
	}
}

// TestCompressedHandlerPanics checks that a handler that panics halfway
// through a compressed page leaves no decoder goroutine behind.
func TestCompressedHandlerPanics(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	for _, c := range testCodings {
		t.Run(c.name, func(t *testing.T) {
			body := c.compress(t, testpage.Realistic(100<<10))
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", c.header)
				w.Write(body[:len(body)/2])
				panic(http.ErrAbortHandler)
			}))
			func() {
				defer func() {
					if p := recover(); p != http.ErrAbortHandler {
						t.Errorf("recovered %v, want the handler's panic", p)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}()
			if left := decoderGoroutines(); len(left) > 0 {
				t.Errorf("decoder goroutines left after the panic:\n%s", strings.Join(left, "\n\n"))
			}
		})
	}
}

// TestContentCoding checks how the Content-Encoding header is read.
func TestContentCoding(t *testing.T) {
	tests := []struct {
		h    http.Header
		want coding
	}{
		{http.Header{}, identity},
		{http.Header{"Content-Encoding": {"identity"}}, identity},
		{http.Header{"Content-Encoding": {"GZIP"}}, gzipCoding},
		{http.Header{"Content-Encoding": {" x-gzip "}}, gzipCoding},
		{http.Header{"Content-Encoding": {"identity, br"}}, brotliCoding},
		{http.Header{"Content-Encoding": {"deflate"}}, deflateCoding},
		{http.Header{"Content-Encoding": {"zstd"}}, zstdCoding},
		{http.Header{"content-encoding": {"zstd"}}, zstdCoding},
		{http.Header{"Content-Encoding": {"gzip", "br"}}, otherCoding},
		{http.Header{"Content-Encoding": {"gzip, gzip"}}, otherCoding},
		{http.Header{"Content-Encoding": {"compress"}}, otherCoding},
		{http.Header{"Content-Encoding": {"dcz"}}, otherCoding},
	}
	for _, tc := range tests {
		if got, _ := contentCoding(tc.h); got != tc.want {
			t.Errorf("contentCoding(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

// panickingSigner is a key whose every signature panics, as a buggy KMS
// client might.
type panickingSigner struct{ pub crypto.PublicKey }

func (p panickingSigner) Public() crypto.PublicKey { return p.pub }

func (panickingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	panic("kms: client bug")
}

// TestCompressedFinishPanics checks that no decoder goroutine outlives
// ServeHTTP when the widget's own code panics after the handler returned:
// a page truncated by a byte, whose decoder (gzip, deflate) hands the
// decoded bytes over only at the end of the body, reaches the decision
// while the middleware ends the response, and there a resolver that aborts
// with http.ErrAbortHandler, a WithNonce function or a signer panics. The
// panic goes on, whether it came in the handler's write (br hands its
// bytes over as it decodes) or at the end; only a body that never reaches
// the decision (zstd holds back a block until it is whole) goes out
// untouched, and returns.
func TestCompressedFinishPanics(t *testing.T) {
	type boom struct{}
	sources := []struct {
		name     string
		resolver Resolver
		key      func(t *testing.T) Key
		opts     []Option
	}{
		{"resolver aborts", ResolverFunc(func(*http.Request) (*Visitor, error) { panic(http.ErrAbortHandler) }), nil, nil},
		{"WithNonce panics", fixed(alice), nil, []Option{WithNonce(func(*http.Request) string { panic(boom{}) })}},
		{"signer panics", fixed(alice), func(t *testing.T) Key { return KeySigner(panickingSigner{testPublicKey(t)}) }, nil},
	}
	for _, src := range sources {
		for _, c := range testCodings {
			t.Run(src.name+"/"+c.name, func(t *testing.T) {
				key := KeyPEM(testKeyPEM(t))
				if src.key != nil {
					key = src.key(t)
				}
				opts := append([]Option{WithLogger(discardLogger()), WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`)}, src.opts...)
				m, err := New("test-widget", key, src.resolver, opts...)
				if err != nil {
					t.Fatal(err)
				}
				body := c.compress(t, []byte(page))
				body = body[:len(body)-1]
				h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					w.Header().Set("Content-Encoding", c.header)
					w.Write(body)
				}))
				rec := httptest.NewRecorder()
				var p any
				func() {
					defer func() { p = recover() }()
					h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				}()
				if p == nil && !bytes.Equal(rec.Body.Bytes(), body) {
					t.Errorf("ServeHTTP returned with body %q; want the %s panic to go on, or the body untouched", rec.Body.Bytes(), src.name)
				}
				if left := decoderGoroutines(); len(left) > 0 {
					t.Errorf("decoder goroutines left after the panic (%v):\n%s", p, strings.Join(left, "\n\n"))
				}
			})
		}
	}
}

// TestUndecodableWriteCount checks that a Write whose bytes turn out not to
// decode, so that the body goes out as the handler wrote it, reports the
// bytes of that Write, never more: io.Copy, a bytes.Reader's WriteTo and
// the handler's own checks rely on it (io.Writer: 0 <= n <= len(p)).
func TestUndecodableWriteCount(t *testing.T) {
	var hdr bytes.Buffer
	gzip.NewWriter(&hdr).Flush() // the 10-byte header, and an empty sync block
	head := hdr.Bytes()[:10]
	bad := "\x07 is a block of the reserved type"
	tests := []struct {
		name  string
		write func(w io.Writer) (n, want int64, err error)
		whole []byte // the handler's body, which must go out untouched; nil: not checked
	}{
		{"io.Copy from a bytes.Reader after a first write", func(w io.Writer) (int64, int64, error) {
			w.Write(head)
			n, err := io.Copy(w, bytes.NewReader([]byte(bad)))
			return n, int64(len(bad)), err
		}, append(append([]byte(nil), head...), bad...)},
		{"io.Copy from a MultiReader", func(w io.Writer) (int64, int64, error) {
			n, err := io.Copy(w, io.MultiReader(bytes.NewReader(head), bytes.NewReader([]byte(bad))))
			return n, int64(len(head) + len(bad)), err
		}, append(append([]byte(nil), head...), bad...)},
		{"io.Copy through its buffer", func(w io.Writer) (int64, int64, error) {
			r := struct{ io.Reader }{io.MultiReader(bytes.NewReader(head), bytes.NewReader([]byte(bad)))} // no WriteTo
			n, err := io.CopyBuffer(w, r, make([]byte, 8))
			return n, int64(len(head) + len(bad)), err
		}, append(append([]byte(nil), head...), bad...)},
		{"a footer after gz.Close", func(w io.Writer) (int64, int64, error) {
			gz := gzip.NewWriter(w)
			io.WriteString(gz, page)
			gz.Close()
			n, err := io.WriteString(w, "<!-- footer -->")
			return int64(n), int64(len("<!-- footer -->")), err
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, fixed(alice), nil)
			var n, want int64
			var err error
			var p any
			rec := serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", "gzip")
				defer func() { p = recover() }()
				n, want, err = tc.write(w)
			})), httptest.NewRequest("GET", "/", nil))
			if p != nil || n != want || err != nil {
				t.Errorf("wrote %d bytes, %v (panic: %v); want %d, nil", n, err, p, want)
			}
			if tc.whole != nil && !bytes.Equal(rec.Body.Bytes(), tc.whole) {
				t.Errorf("body = %q, want the handler's bytes untouched", rec.Body.Bytes())
			}
		})
	}
}

// TestTrailingBytes checks what follows the end of a coded stream, as
// Chromium reads it (examples/selfcsp's TestBrowserTrailingBytes shows
// Chromium doing so): after a gzip member, a zlib stream or a brotli
// stream, anything (another member, garbage, a footer written past the
// compressor) is ignored; a raw deflate stream is read as zlib with a made
// up header, so four bytes after it must be its Adler-32 (fewer are let
// be), and the rest is ignored; zstd decodes frame after frame, and
// anything else fails. The page, less what is ignored, gets the widget;
// a body that fails goes out untouched. Whether the tail comes in the
// stream's last Write or in one of its own.
func TestTrailingBytes(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	want := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.Bytes()
	wantBoth := serve(m.Handler(htmlHandler(page+"<p>second</p>")), httptest.NewRequest("GET", "/", nil)).Body.Bytes()
	coding := func(name string) testCoding {
		for _, c := range testCodings {
			if c.name == name {
				return c
			}
		}
		t.Fatalf("no coding %s", name)
		return testCoding{}
	}
	sum := adler32.Checksum([]byte(page))
	adler := string([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	tests := []struct {
		coding, name string
		tail         func(c testCoding) string
		want         []byte // the decoded response; nil: the body untouched
	}{
		{"gzip", "a second member", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, want},
		{"gzip", "garbage", func(testCoding) string { return "garbage" }, want},
		{"gzip", "a footer past the compressor", func(testCoding) string { return "<!-- footer -->" }, want},
		{"x-gzip", "a second member", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, want},
		{"deflate (zlib)", "a second stream", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, want},
		{"deflate (zlib)", "garbage", func(testCoding) string { return "garbage" }, want},
		{"deflate (raw)", "three bytes", func(testCoding) string { return "abc" }, want},
		{"deflate (raw)", "its Adler-32, then garbage", func(testCoding) string { return adler + "garbage" }, want},
		{"deflate (raw)", "garbage", func(testCoding) string { return "garbage" }, nil},
		{"deflate (raw)", "a second stream", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, nil},
		{"br", "a second stream", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, want},
		{"br", "garbage", func(testCoding) string { return "garbage" }, want},
		{"zstd", "a second frame", func(c testCoding) string { return string(c.compress(t, []byte("<p>second</p>"))) }, wantBoth},
		{"zstd", "garbage", func(testCoding) string { return "garbage" }, nil},
	}
	for _, tc := range tests {
		c := coding(tc.coding)
		stream, tail := c.compress(t, []byte(page)), tc.tail(c)
		for _, apart := range []bool{false, true} {
			name := tc.coding + "/" + tc.name
			if apart {
				name += "/in a write of its own"
			}
			t.Run(name, func(t *testing.T) {
				body := append(append([]byte(nil), stream...), tail...)
				rec := serve(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					w.Header().Set("Content-Encoding", c.header)
					if apart {
						w.Write(stream)
						io.WriteString(w, tail)
						return
					}
					w.Write(body)
				})), httptest.NewRequest("GET", "/", nil))
				if tc.want == nil {
					if !bytes.Equal(rec.Body.Bytes(), body) {
						t.Errorf("body = %q, want the handler's bytes untouched", rec.Body.Bytes())
					}
					return
				}
				if got := c.decompress(t, rec.Body.Bytes()); !bytes.Equal(got, tc.want) {
					t.Errorf("decoded body = %q, want %q", got, tc.want)
				}
			})
		}
	}
}
