package chatwidget

import (
	"io"
	"net/http"
)

// This file is the one place that knows which optional interfaces a
// handler's writer has: exactly those of the inner writer, in every
// combination (httpsnoop's rule), so that a handler that asserts one finds
// it if and only if net/http's writer would have it.

// closeNotifier forwards the deprecated [http.CloseNotifier], which gin's
// writer asserts on the writer it wraps.
type closeNotifier struct{ h handle }

// CloseNotify returns the inner writer's channel; once the handler has
// returned, one that never receives.
func (c closeNotifier) CloseNotify() <-chan bool {
	if cw := c.h.lock(); cw != nil {
		defer cw.mu.Unlock()
		return cw.w.(http.CloseNotifier).CloseNotify() //lint:ignore SA1019 forwarded for handlers (gin) that still use it
	}
	return nil
}

// wrap returns a live handle to cw with exactly the optional interfaces of
// the inner writer: Flusher and Hijacker if it or a writer it unwraps to
// has them (as http.ResponseController would find them), ReaderFrom and
// CloseNotifier if it has them. It is made anew for each response (one
// allocation), since a handler may keep it past its return.
func (cw *responseWriter) wrap() http.ResponseWriter {
	f, hj := capabilities(cw.w)
	_, r := cw.w.(io.ReaderFrom)
	_, cn := cw.w.(http.CloseNotifier) //lint:ignore SA1019 forwarded, not used
	h := handle{cw, cw.gen.Load()}
	switch {
	case f && hj && r && cn:
		return struct {
			handle
			flusher
			hijacker
			readerFrom
			closeNotifier
		}{h, flusher{h}, hijacker{h}, readerFrom{h}, closeNotifier{h}}
	case f && hj && r:
		return struct {
			handle
			flusher
			hijacker
			readerFrom
		}{h, flusher{h}, hijacker{h}, readerFrom{h}}
	case f && hj && cn:
		return struct {
			handle
			flusher
			hijacker
			closeNotifier
		}{h, flusher{h}, hijacker{h}, closeNotifier{h}}
	case f && r && cn:
		return struct {
			handle
			flusher
			readerFrom
			closeNotifier
		}{h, flusher{h}, readerFrom{h}, closeNotifier{h}}
	case hj && r && cn:
		return struct {
			handle
			hijacker
			readerFrom
			closeNotifier
		}{h, hijacker{h}, readerFrom{h}, closeNotifier{h}}
	case f && hj:
		return struct {
			handle
			flusher
			hijacker
		}{h, flusher{h}, hijacker{h}}
	case f && r:
		return struct {
			handle
			flusher
			readerFrom
		}{h, flusher{h}, readerFrom{h}}
	case f && cn:
		return struct {
			handle
			flusher
			closeNotifier
		}{h, flusher{h}, closeNotifier{h}}
	case hj && r:
		return struct {
			handle
			hijacker
			readerFrom
		}{h, hijacker{h}, readerFrom{h}}
	case hj && cn:
		return struct {
			handle
			hijacker
			closeNotifier
		}{h, hijacker{h}, closeNotifier{h}}
	case r && cn:
		return struct {
			handle
			readerFrom
			closeNotifier
		}{h, readerFrom{h}, closeNotifier{h}}
	case f:
		return struct {
			handle
			flusher
		}{h, flusher{h}}
	case hj:
		return struct {
			handle
			hijacker
		}{h, hijacker{h}}
	case r:
		return struct {
			handle
			readerFrom
		}{h, readerFrom{h}}
	case cn:
		return struct {
			handle
			closeNotifier
		}{h, closeNotifier{h}}
	}
	return h
}
