package chatwidget

import (
	"io"
	"net/http"
	"net/http/httptest"
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
