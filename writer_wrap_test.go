package chatwidget

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type closeRec struct{ r *recorder }

func (closeRec) CloseNotify() <-chan bool { return make(chan bool) }

// innerWith returns a writer over rec with the optional interfaces that
// f, h, r and c say: Flusher, Hijacker, ReaderFrom, CloseNotifier.
func innerWith(rec *recorder, f, h, r, c bool) http.ResponseWriter {
	switch {
	case f && h && r && c:
		return struct {
			flushRec
			hijackRec
			readFromRec
			closeRec
			http.ResponseWriter
		}{flushRec{rec}, hijackRec{rec}, readFromRec{rec}, closeRec{rec}, rec}
	case f && h && r:
		return struct {
			flushRec
			hijackRec
			readFromRec
			http.ResponseWriter
		}{flushRec{rec}, hijackRec{rec}, readFromRec{rec}, rec}
	case f && h && c:
		return struct {
			flushRec
			hijackRec
			closeRec
			http.ResponseWriter
		}{flushRec{rec}, hijackRec{rec}, closeRec{rec}, rec}
	case f && r && c:
		return struct {
			flushRec
			readFromRec
			closeRec
			http.ResponseWriter
		}{flushRec{rec}, readFromRec{rec}, closeRec{rec}, rec}
	case h && r && c:
		return struct {
			hijackRec
			readFromRec
			closeRec
			http.ResponseWriter
		}{hijackRec{rec}, readFromRec{rec}, closeRec{rec}, rec}
	case f && h:
		return struct {
			flushRec
			hijackRec
			http.ResponseWriter
		}{flushRec{rec}, hijackRec{rec}, rec}
	case f && r:
		return struct {
			flushRec
			readFromRec
			http.ResponseWriter
		}{flushRec{rec}, readFromRec{rec}, rec}
	case f && c:
		return struct {
			flushRec
			closeRec
			http.ResponseWriter
		}{flushRec{rec}, closeRec{rec}, rec}
	case h && r:
		return struct {
			hijackRec
			readFromRec
			http.ResponseWriter
		}{hijackRec{rec}, readFromRec{rec}, rec}
	case h && c:
		return struct {
			hijackRec
			closeRec
			http.ResponseWriter
		}{hijackRec{rec}, closeRec{rec}, rec}
	case r && c:
		return struct {
			readFromRec
			closeRec
			http.ResponseWriter
		}{readFromRec{rec}, closeRec{rec}, rec}
	case f:
		return struct {
			flushRec
			http.ResponseWriter
		}{flushRec{rec}, rec}
	case h:
		return struct {
			hijackRec
			http.ResponseWriter
		}{hijackRec{rec}, rec}
	case r:
		return struct {
			readFromRec
			http.ResponseWriter
		}{readFromRec{rec}, rec}
	case c:
		return struct {
			closeRec
			http.ResponseWriter
		}{closeRec{rec}, rec}
	}
	return struct{ http.ResponseWriter }{rec}
}

// TestInterfaces checks that the wrapped writer has Flusher, Hijacker and
// ReaderFrom exactly when the inner writer has them, and unwraps to it.
func TestInterfaces(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	for mask := range 16 {
		rec := &recorder{ResponseRecorder: httptest.NewRecorder()}
		f, h, r, c := mask&1 != 0, mask&2 != 0, mask&4 != 0, mask&8 != 0
		inner := innerWith(rec, f, h, r, c)
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, gf := w.(http.Flusher)
			_, gh := w.(http.Hijacker)
			_, gr := w.(io.ReaderFrom)
			_, gc := w.(http.CloseNotifier) //lint:ignore SA1019 what gin asserts
			if gf != f || gh != h || gr != r || gc != c {
				t.Errorf("inner (Flusher %v, Hijacker %v, ReaderFrom %v, CloseNotifier %v): wrapper has (%v, %v, %v, %v)", f, h, r, c, gf, gh, gr, gc)
			}
			if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != inner {
				t.Errorf("wrapper does not unwrap to the inner writer")
			}
			err := http.NewResponseController(w).Flush()
			if f != (err == nil) {
				t.Errorf("inner Flusher %v: ResponseController.Flush() = %v", f, err)
			}
		})).ServeHTTP(inner, httptest.NewRequest("GET", "/", nil))
	}
}

// unwrapOnly is an outer middleware's writer that embeds the
// ResponseWriter and offers Unwrap, as Go 1.20+ recommends, but no Flush.
type unwrapOnly struct{ http.ResponseWriter }

func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestResponseControllerThroughUnwrap checks that a flush through
// http.ResponseController goes through the middleware, not around it, when
// an outer wrapper hides Flush behind Unwrap.
func TestResponseControllerThroughUnwrap(t *testing.T) {
	m := newTest(t, fixed(alice), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=600")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			io.WriteString(w, page)
		})).ServeHTTP(unwrapOnly{w}, r)
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("Cache-Control = %q on a page with a token", cc)
	}
	if strings.Count(string(body), "data-chatwidget") != 1 || !strings.HasSuffix(string(body), "</body></html>") {
		t.Errorf("body = %q", body)
	}
}
