// Package faults is a fault suite for [github.com/chatwidget/chatwidget]: it
// runs the real middleware in front of a small site over real loopback
// connections (net/http/httptest) and makes every part misbehave in turn.
//
//   - Clients that disconnect mid-stream, read a 4 MiB page slowly through a
//     tiny receive buffer, or send Range to static files and to pages that
//     ignore it.
//   - Handlers that panic after a partial write (with [net/http.ErrAbortHandler]
//     or another value), write after a hijack, never write, or only call
//     WriteHeader.
//   - Resolvers that block until the request's context is cancelled, fail,
//     panic, or return a megabyte of custom fields.
//   - All of these at once, from 50 goroutines against one server.
//
// After each fault the same server must still serve a normal page with
// exactly one widget and a token that verifies, the middleware must have
// logged exactly the records the fault calls for, and no goroutine may
// outlive the requests (go.uber.org/goleak, per test and for the package).
//
// The package holds only tests:
//
//	cd integration && go test -race ./faults
package faults
