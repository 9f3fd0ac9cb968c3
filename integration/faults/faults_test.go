package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Log messages, or the part of them that tells them apart.
const (
	logResolverFailed   = "chatwidget: resolver failed; serving the page as anonymous"
	logResolverPanicked = "chatwidget: resolver panicked; serving the page as anonymous"
	logFieldsDropped    = "custom fields dropped: too large"
	logHandlerPanic     = "http: panic serving"
	logHijackedWrite    = "http: response.Write on hijacked connection"
)

// faultTimeout bounds a fault and the page request after it: a guard
// against a hang, far above what they take (a second or two under -race on
// a loaded machine), never a way to wait for something.
const faultTimeout = 15 * time.Second

// A fault is one way for a client, a handler or the resolver to misbehave.
// run makes it happen against s and checks what the client gets; it must
// not return before the request has ended on the server.
type fault struct {
	name       string
	run        func(ctx context.Context, s *site) error
	logs       map[string]int // the middleware's records it causes, by message
	serverLogs map[string]int // net/http's ErrorLog messages it causes, by what they contain
}

// faults returns every fault of the suite.
func faults() []fault {
	var fs []fault
	for _, tc := range []struct {
		name string
		read int // body bytes read before closing; -1: close before the response
	}{
		{"before the response", -1},
		{"after the headers", 0},
		{"mid-stream", cutAfter},
	} {
		fs = append(fs, fault{name: "client/disconnect " + tc.name, run: disconnect(tc.read)})
	}
	fs = append(fs,
		fault{name: "client/slow reader", run: slowRead},
		fault{name: "client/disconnect from a handler that checks only Flush", run: flushLoop})

	n := len(staticHeadPadded())
	for _, tc := range []struct {
		name, path, rng string
		check           func(s *site, resp *http.Response, body []byte) error
		resolves        int32
	}{
		{"first 100 bytes of a static file", "/static/static.html", "bytes=0-99", checkRange(0, 99), 0},
		{"last 100 bytes of a static file", "/static/static.html", "bytes=-100", checkRange(n-100, n-1), 0},
		{"two ranges of a static file", "/static/static.html", "bytes=0-9,60-99", checkMultiRange([2]int{0, 9}, [2]int{60, 99}), 0},
		{"unsatisfiable range of a static file", "/static/static.html", "bytes=99999-", checkUnsatisfiable, 0},
		{"no range, whole static file", "/static/static.html", "", checkStaticWhole, 1},
		{"page that ignores Range", "/page", "bytes=0-99", checkIgnoredRange, 1},
	} {
		fs = append(fs, fault{name: "client/range " + tc.name, run: rangeFault(tc.path, tc.rng, tc.check, tc.resolves)})
	}

	for _, tc := range []struct {
		name       string
		query      string
		before     int
		flushed    bool
		serverLogs map[string]int
	}{
		{"ErrAbortHandler after a flushed write", "value=abort&before=8192&flush", 8192, true, nil},
		{"ErrAbortHandler after an unflushed write", "value=abort&before=100", 100, false, nil},
		{"ErrAbortHandler before writing", "value=abort", 0, false, nil},
		{"a string after a flushed write", "value=boom&before=8192&flush", 8192, true, map[string]int{logHandlerPanic: 1}},
		{"a string before writing", "value=boom", 0, false, map[string]int{logHandlerPanic: 1}},
	} {
		fs = append(fs, fault{name: "handler/panic " + tc.name, run: handlerPanic(tc.query, tc.before, tc.flushed), serverLogs: tc.serverLogs})
	}

	for _, tc := range []struct {
		name    string
		query   string
		wantErr error
		logged  int
	}{
		{"write after Hijacker.Hijack", "after=write", http.ErrHijacked, 1},
		{"write after ResponseController.Hijack", "via=controller&after=write", http.ErrHijacked, 1},
		{"ReadFrom after hijack", "after=readfrom", http.ErrHijacked, 1},
		{"HTML type, write after hijack", "type=text/html&after=write", http.ErrHijacked, 1},
		{"nothing after hijack", "", nil, 0},
	} {
		f := fault{name: "handler/hijack " + tc.name, run: hijackFault(tc.query, tc.wantErr)}
		if tc.logged > 0 {
			f.serverLogs = map[string]int{logHijackedWrite: tc.logged}
		}
		fs = append(fs, f)
	}

	for _, tc := range []struct {
		name     string
		query    string
		status   int
		resolves int32
	}{
		{"never writes", "", 200, 0},
		{"never writes, no type", "type=none", 200, 0},
		{"writes nothing", "do=empty", 200, 0},
		{"WriteHeader(200) only", "do=header&code=200", 200, 0},
		{"WriteHeader(404) only", "do=header&code=404", 404, 0},
		{"WriteHeader(500) only", "do=header&code=500", 500, 0},
		{"WriteHeader(204) only", "do=header&code=204", 204, 0},
		{"WriteHeader(304) only", "do=header&code=304", 304, 0},
		// A flush before the first write sends the headers of a page
		// that is taken for a document: the resolver is asked.
		{"Flush only", "do=flush", 200, 1},
	} {
		fs = append(fs, fault{name: "handler/silent " + tc.name, run: silentFault(tc.query, tc.status, tc.resolves)})
	}

	fs = append(fs,
		fault{name: "resolver/blocks until the client leaves", run: resolverBlocks, logs: map[string]int{logResolverFailed: 1}},
		fault{name: "resolver/returns an error", run: resolverAnonymous("error", logResolverFailed, "connection refused"), logs: map[string]int{logResolverFailed: 1}},
		fault{name: "resolver/panics", run: resolverAnonymous("panic", logResolverPanicked, "session store exploded"), logs: map[string]int{logResolverPanicked: 1}},
		fault{name: "resolver/panics with ErrAbortHandler", run: resolverAborts},
		fault{name: "resolver/returns a 1 MiB field", run: resolverBig("big"), logs: map[string]int{logFieldsDropped: 1}},
		fault{name: "resolver/returns 1 MiB in 16384 fields", run: resolverBig("many"), logs: map[string]int{logFieldsDropped: 1}},
	)
	return fs
}

// TestFaults makes each fault happen alone against a fresh site, then checks
// that the site still serves its page, what was logged, and that no
// goroutine is left.
func TestFaults(t *testing.T) {
	for _, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			s := newSite(t)
			ctx, cancel := context.WithTimeout(t.Context(), faultTimeout)
			defer cancel()
			if err := f.run(ctx, s); err != nil {
				t.Error(err)
			}
			if err := s.checkPage(ctx); err != nil {
				t.Errorf("after the fault: %v", err)
			}
			s.shutdown(t)
			checkLogs(t, s, f.logs, f.serverLogs)
			goleak.VerifyNone(t)
		})
	}
}

// TestConcurrent runs 50 goroutines, each making a fault happen and then
// requesting the normal page, against one site.
func TestConcurrent(t *testing.T) {
	const workers = 50
	s := newSite(t)
	fs := faults()
	ctx, cancel := context.WithTimeout(t.Context(), 2*faultTimeout)
	defer cancel()
	logs, serverLogs := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for i := range workers {
		f := fs[i%len(fs)]
		for k, v := range f.logs {
			logs[k] += v
		}
		for k, v := range f.serverLogs {
			serverLogs[k] += v
		}
		wg.Go(func() {
			if err := f.run(ctx, s); err != nil {
				t.Errorf("%s: %v", f.name, err)
			}
			if err := s.checkPage(ctx); err != nil {
				t.Errorf("after %s: %v", f.name, err)
			}
		})
	}
	wg.Wait()
	s.shutdown(t)
	checkLogs(t, s, logs, serverLogs)
	goleak.VerifyNone(t)
}

// shutdown closes the site. If the test has failed, it first releases
// blocked resolvers and cuts the connections, so that a handler stuck on a
// client cannot hang it.
func (s *site) shutdown(t *testing.T) {
	if t.Failed() {
		s.releaseOnce.Do(func() { close(s.release) })
		s.srv.CloseClientConnections()
	}
	s.close()
	s.srv.Client().CloseIdleConnections()
}

// checkLogs checks that the middleware and net/http logged exactly the
// messages in want and wantServer, counted by the keys they contain.
func checkLogs(t *testing.T, s *site, want, wantServer map[string]int) {
	t.Helper()
	recs, err := s.logs.records()
	if err != nil {
		t.Fatalf("middleware log: %v", err)
	}
	var msgs []string
	for _, r := range recs {
		msg, _ := r["msg"].(string)
		msgs = append(msgs, msg)
		for _, k := range []string{"key", "token", "jwt"} { // never key material or whole tokens
			if v, ok := r[k]; ok {
				t.Errorf("log record %v has %q = %v", r, k, v)
			}
		}
	}
	if got := countBy(msgs, want); !equalCounts(got, want) {
		t.Errorf("middleware logged %d records %q, counted %v, want %v", len(msgs), msgs, got, want)
	}
	sm := s.errLog.messages()
	if got := countBy(sm, wantServer); !equalCounts(got, wantServer) {
		t.Errorf("server logged %d messages %q, counted %v, want %v", len(sm), sm, got, wantServer)
	}
}

// countBy counts msgs by the first key of want each contains; those that
// contain none are counted under "".
func countBy(msgs []string, want map[string]int) map[string]int {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	got := map[string]int{}
	for _, m := range msgs {
		i := slices.IndexFunc(keys, func(k string) bool { return strings.Contains(m, k) })
		if i < 0 {
			got[""]++
			continue
		}
		got[keys[i]]++
	}
	return got
}

func equalCounts(got, want map[string]int) bool {
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// disconnect requests the endless stream and closes the connection after
// reading read bytes of its body (-1: before reading the response); the
// handler must see a write error or its context cancelled, and return.
func disconnect(read int) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		conn, err := s.dial(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		req, err := s.sendGet(ctx, conn, "/stream", hdrProbe, p.id)
		if err != nil {
			return err
		}
		if read >= 0 {
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			if err != nil {
				return fmt.Errorf("stream: %w", err)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.ContentLength != -1 {
				return fmt.Errorf("stream: %s %q, length %d, want a 200 HTML stream", resp.Status, resp.Header.Get("Content-Type"), resp.ContentLength)
			}
			got := make([]byte, read)
			if _, err := io.ReadFull(resp.Body, got); err != nil {
				return fmt.Errorf("stream: reading %d bytes: %w", read, err)
			}
			want := "<!doctype html>\n<html><body>\n<p>a line of an endless page</p>\n"
			if string(got[:min(len(got), len(want))]) != want[:min(len(got), len(want))] {
				return fmt.Errorf("stream begins %.80q, want the page", got)
			}
		}
		if err := conn.Close(); err != nil {
			return err
		}
		if err := wait(ctx, p, "stream"); err != nil {
			return err
		}
		if p.err == nil {
			return errors.New("stream: the handler saw no error, want a write error or a cancelled context")
		}
		return nil
	}
}

// flushLoop requests, around the middleware (/bare/) and through it, a
// page whose handler writes small pieces and flushes each, and leaves after
// the headers: as without the middleware, the handler must learn from
// ResponseController.Flush's error that the client has gone (its writes go
// to a buffer and cannot tell).
func flushLoop(ctx context.Context, s *site) error {
	for _, prefix := range []string{"/bare", ""} {
		p := s.newProbe()
		conn, err := s.dial(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		req, err := s.sendGet(ctx, conn, prefix+"/flushloop", hdrProbe, p.id)
		if err != nil {
			return err
		}
		if _, err := http.ReadResponse(bufio.NewReader(conn), req); err != nil {
			return fmt.Errorf("%s/flushloop: %w", prefix, err)
		}
		if err := conn.Close(); err != nil {
			return err
		}
		if err := wait(ctx, p, prefix+"/flushloop"); err != nil {
			return err
		}
		if p.err == nil || !strings.HasPrefix(p.err.Error(), "flush: ") {
			return fmt.Errorf("%s/flushloop: the handler saw %v first, want a Flush error", prefix, p.err)
		}
	}
	return nil
}

// slowRead reads the 4 MiB page in reads of at most 512 bytes through a
// 4 KiB receive buffer (on Unix); it must come whole, with one anonymous
// widget.
func slowRead(ctx context.Context, s *site) error {
	p := s.newProbe()
	conn, err := s.dialWith(ctx, &net.Dialer{Control: rcvBuf(4 << 10)})
	if err != nil {
		return err
	}
	defer conn.Close()
	req, err := s.sendGet(ctx, conn, "/big", hdrProbe, p.id)
	if err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(smallReads{conn, 512}, 512), req)
	if err != nil {
		return fmt.Errorf("slow read: %w", err)
	}
	body, err := io.ReadAll(smallReads{resp.Body, 512})
	if err != nil {
		return fmt.Errorf("slow read: after %d bytes: %w", len(body), err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/html; charset=utf-8" {
		return fmt.Errorf("slow read: %s %q, want 200 and the sniffed HTML type", resp.Status, ct)
	}
	claims, err := s.checkWidget(body, s.big)
	if err != nil {
		return fmt.Errorf("slow read: %w", err)
	}
	if claims != nil {
		return fmt.Errorf("slow read: widget carries %v, want the anonymous one", claims)
	}
	if err := wait(ctx, p, "slow read"); err != nil {
		return err
	}
	if p.err != nil {
		return fmt.Errorf("slow read: the handler saw %v", p.err)
	}
	return nil
}

// staticHeadPadded is static.html as newSite writes it.
func staticHeadPadded() []byte {
	return []byte(staticHead + "<!--" + strings.Repeat(" padding", 250) + " -->\n")
}

// rangeFault requests path as the user with Range: rng (none if empty),
// checks the response, and that the resolver was asked resolves times.
func rangeFault(path, rng string, check func(*site, *http.Response, []byte) error, resolves int32) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		h := []string{hdrProbe, p.id, hdrResolver, "user"}
		if rng != "" {
			h = append(h, "Range", rng)
		}
		resp, body, errBody, err := s.get(ctx, path, h...)
		if err == nil {
			err = errBody
		}
		if err != nil {
			return fmt.Errorf("GET %s, Range %q: %w", path, rng, err)
		}
		if err := wait(ctx, p, "range"); err != nil {
			return err
		}
		if err := check(s, resp, body); err != nil {
			return fmt.Errorf("GET %s, Range %q: %w", path, rng, err)
		}
		if got := p.resolves.Load(); got != resolves {
			return fmt.Errorf("GET %s, Range %q: resolver called %d times, want %d", path, rng, got, resolves)
		}
		return nil
	}
}

// checkRange checks a 206 for bytes first-last of static.html, byte for byte.
func checkRange(first, last int) func(*site, *http.Response, []byte) error {
	return func(s *site, resp *http.Response, body []byte) error {
		wantCR := fmt.Sprintf("bytes %d-%d/%d", first, last, len(s.static))
		switch {
		case resp.StatusCode != http.StatusPartialContent:
			return fmt.Errorf("status %s, want 206", resp.Status)
		case resp.Header.Get("Content-Range") != wantCR:
			return fmt.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), wantCR)
		case resp.Header.Get("Content-Length") != strconv.Itoa(last-first+1):
			return fmt.Errorf("Content-Length %q, want %d", resp.Header.Get("Content-Length"), last-first+1)
		case !bytes.Equal(body, s.static[first:last+1]):
			return fmt.Errorf("body %q, want %q", body, s.static[first:last+1])
		case widgets(body) != 0:
			return fmt.Errorf("body %q has a widget", body)
		}
		return nil
	}
}

// checkMultiRange checks a 206 multipart/byteranges of static.html.
func checkMultiRange(ranges ...[2]int) func(*site, *http.Response, []byte) error {
	return func(s *site, resp *http.Response, body []byte) error {
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
			return fmt.Errorf("%s %q, want 206 multipart/byteranges", resp.Status, resp.Header.Get("Content-Type"))
		}
		if widgets(body) != 0 {
			return fmt.Errorf("body %q has a widget", body)
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i, r := range ranges {
			part, err := mr.NextPart()
			if err != nil {
				return fmt.Errorf("part %d: %w", i, err)
			}
			got, err := io.ReadAll(part)
			if err != nil {
				return fmt.Errorf("part %d: %w", i, err)
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", r[0], r[1], len(s.static))
			if cr := part.Header.Get("Content-Range"); cr != wantCR || !bytes.Equal(got, s.static[r[0]:r[1]+1]) {
				return fmt.Errorf("part %d: %q %q, want %q %q", i, cr, got, wantCR, s.static[r[0]:r[1]+1])
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			return fmt.Errorf("after %d parts: %v, want the end", len(ranges), err)
		}
		return nil
	}
}

// checkUnsatisfiable checks the 416 of a range past the end of static.html.
func checkUnsatisfiable(s *site, resp *http.Response, body []byte) error {
	wantCR := fmt.Sprintf("bytes */%d", len(s.static))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != wantCR || widgets(body) != 0 {
		return fmt.Errorf("%s, Content-Range %q, body %q; want 416, %q and no widget", resp.Status, resp.Header.Get("Content-Range"), body, wantCR)
	}
	return nil
}

// checkStaticWhole checks static.html served whole: the user's widget, no
// Accept-Ranges, and no validators on a page that carries a token.
func checkStaticWhole(s *site, resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s, want 200", resp.Status)
	}
	for _, k := range []string{"Accept-Ranges", "Content-Range", "Last-Modified"} {
		if v := resp.Header.Get(k); v != "" {
			return fmt.Errorf("%s: %q, want none", k, v)
		}
	}
	if resp.ContentLength != -1 && resp.ContentLength != int64(len(body)) {
		return fmt.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
	}
	claims, err := s.checkWidget(body, s.static)
	if err != nil {
		return err
	}
	return checkUser(claims, true)
}

// checkIgnoredRange checks a page whose handler ignores Range: a 200 with
// the whole page and the user's widget.
func checkIgnoredRange(s *site, resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Range") != "" {
		return fmt.Errorf("%s, Content-Range %q; want 200 and none", resp.Status, resp.Header.Get("Content-Range"))
	}
	claims, err := s.checkWidget(body, []byte(pageHTML))
	if err != nil {
		return err
	}
	return checkUser(claims, true)
}

// handlerPanic requests a page whose handler panics after writing before
// bytes (flushed or not): the client must see the connection end without
// a whole response, and at most what the handler wrote.
func handlerPanic(query string, before int, flushed bool) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		conn, err := s.dial(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		req, err := s.sendGet(ctx, conn, "/panic?"+query, hdrProbe, p.id)
		if err != nil {
			return err
		}
		var body []byte
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			if err == nil {
				return fmt.Errorf("panic: a whole %s response of %d bytes, want it cut short", resp.Status, len(body))
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("panic: the connection stayed open: %w", err)
		}
		written := pagePrefix(before)
		switch {
		case flushed && resp == nil:
			return fmt.Errorf("panic: %v before the response, want the %d flushed bytes", err, len(written))
		case flushed && !bytes.Equal(body, written):
			return fmt.Errorf("panic: got %d bytes, want the %d flushed", len(body), len(written))
		case !bytes.HasPrefix(written, body):
			return fmt.Errorf("panic: body %.80q is not what the handler wrote", body)
		case widgets(body) != 0:
			return errors.New("panic: a cut page has a widget")
		}
		return wait(ctx, p, "panic")
	}
}

// hijackFault requests the hijacking handler: the connection must carry
// exactly what it wrote to it, and its write to the ResponseWriter after
// the hijack must fail with wantErr.
func hijackFault(query string, wantErr error) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		conn, err := s.dial(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := s.sendGet(ctx, conn, "/hijack?"+query, hdrProbe, p.id); err != nil {
			return err
		}
		got, err := readRaw(conn)
		if err != nil {
			return fmt.Errorf("hijack: %w", err)
		}
		if err := wait(ctx, p, "hijack"); err != nil {
			return err
		}
		if string(got) != hijackReply {
			return fmt.Errorf("hijacked connection carried %q, want %q", got, hijackReply)
		}
		if p.err != wantErr { //nolint:errorlint // net/http returns the sentinel itself
			return fmt.Errorf("hijack: the handler saw %v, want %v", p.err, wantErr)
		}
		return nil
	}
}

// silentFault requests a handler that writes no body, through the
// middleware and around it (/bare/), and wants the same empty response.
func silentFault(query string, status int, resolves int32) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		var want *http.Response
		for _, prefix := range []string{"/bare", ""} {
			p := s.newProbe()
			resp, body, errBody, err := s.get(ctx, prefix+"/silent?"+query, hdrProbe, p.id, hdrResolver, "user")
			if err == nil {
				err = errBody
			}
			if err != nil {
				return fmt.Errorf("silent %s%s: %w", prefix, query, err)
			}
			if err := wait(ctx, p, "silent"); err != nil {
				return err
			}
			if resp.StatusCode != status || len(body) != 0 {
				return fmt.Errorf("silent %s?%s: %s with %d bytes, want %d and no body", prefix, query, resp.Status, len(body), status)
			}
			if p.err != nil {
				return fmt.Errorf("silent %s?%s: the handler saw %v", prefix, query, p.err)
			}
			if want == nil {
				want = resp
				continue
			}
			if resp.ContentLength != want.ContentLength || !slices.Equal(resp.TransferEncoding, want.TransferEncoding) ||
				resp.Header.Get("Content-Type") != want.Header.Get("Content-Type") {
				return fmt.Errorf("silent ?%s: length %d %q, type %q; without the middleware: %d %q, %q", query,
					resp.ContentLength, resp.TransferEncoding, resp.Header.Get("Content-Type"),
					want.ContentLength, want.TransferEncoding, want.Header.Get("Content-Type"))
			}
			if got := p.resolves.Load(); got != resolves {
				return fmt.Errorf("silent ?%s: resolver called %d times, want %d", query, got, resolves)
			}
		}
		return nil
	}
}

// resolverBlocks requests a page whose resolver blocks until the request's
// context is done, then leaves: the resolver must return, the middleware
// log it, and the handler return.
func resolverBlocks(ctx context.Context, s *site) error {
	p := s.newProbe()
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := s.sendGet(ctx, conn, "/page", hdrProbe, p.id, hdrResolver, "block"); err != nil {
		return err
	}
	select {
	case <-p.resolving:
	case <-ctx.Done():
		return errors.New("blocking resolver: never called")
	}
	select {
	case <-p.done:
		return errors.New("blocking resolver: the request ended while the client was still there")
	default:
	}
	if err := conn.Close(); err != nil {
		return err
	}
	if err := wait(ctx, p, "blocking resolver"); err != nil {
		return err
	}
	return s.logged(logResolverFailed, p, "context canceled")
}

// resolverAnonymous requests a page whose resolver fails (mode "error" or
// "panic"): the page must come with the anonymous widget, and the failure
// be logged with the page's path and cause.
func resolverAnonymous(mode, msg, cause string) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		resp, body, errBody, err := s.get(ctx, "/page", hdrProbe, p.id, hdrResolver, mode)
		if err == nil {
			err = errBody
		}
		if err != nil {
			return fmt.Errorf("resolver %s: %w", mode, err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("resolver %s: %s, want 200", mode, resp.Status)
		}
		claims, err := s.checkWidget(body, []byte(pageHTML))
		if err != nil {
			return fmt.Errorf("resolver %s: %w", mode, err)
		}
		if claims != nil {
			return fmt.Errorf("resolver %s: widget carries %v, want the anonymous one", mode, claims)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "" {
			return fmt.Errorf("resolver %s: Cache-Control %q on an anonymous page, want none", mode, cc)
		}
		if err := wait(ctx, p, "resolver "+mode); err != nil {
			return err
		}
		return s.logged(msg, p, cause)
	}
}

// resolverAborts requests a page whose resolver panics with
// http.ErrAbortHandler: the middleware lets the panic go on, so net/http
// drops the connection without a response and logs nothing.
func resolverAborts(ctx context.Context, s *site) error {
	p := s.newProbe()
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	req, err := s.sendGet(ctx, conn, "/page", hdrProbe, p.id, hdrResolver, "abort")
	if err != nil {
		return err
	}
	if resp, err := http.ReadResponse(bufio.NewReader(conn), req); err == nil {
		return fmt.Errorf("resolver abort: %s, want no response", resp.Status)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("resolver abort: the connection stayed open: %w", err)
	}
	return wait(ctx, p, "resolver abort")
}

// resolverBig requests a page whose resolver returns 1 MiB of custom
// fields (mode "big" or "many"): the page must carry the user's token
// without custom fields, and stay small.
func resolverBig(mode string) func(ctx context.Context, s *site) error {
	return func(ctx context.Context, s *site) error {
		p := s.newProbe()
		resp, body, errBody, err := s.get(ctx, "/page", hdrProbe, p.id, hdrResolver, mode)
		if err == nil {
			err = errBody
		}
		if err != nil {
			return fmt.Errorf("resolver %s: %w", mode, err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("resolver %s: %s, want 200", mode, resp.Status)
		}
		if max := len(pageHTML) + 2<<10; len(body) > max {
			return fmt.Errorf("resolver %s: page of %d bytes, want at most %d", mode, len(body), max)
		}
		claims, err := s.checkWidget(body, []byte(pageHTML))
		if err != nil {
			return fmt.Errorf("resolver %s: %w", mode, err)
		}
		if err := checkUser(claims, false); err != nil {
			return fmt.Errorf("resolver %s: %w", mode, err)
		}
		if err := wait(ctx, p, "resolver "+mode); err != nil {
			return err
		}
		return s.loggedFields()
	}
}

// logged checks that msg was logged for p's request (its path is /page)
// with an error or panic that contains cause.
func (s *site) logged(msg string, p *probe, cause string) error {
	recs, err := s.logs.records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		e, _ := r["error"].(string)
		if pv, ok := r["panic"].(string); ok {
			e = pv
		}
		if r["msg"] == msg && r["path"] == "/page" && r["level"] == "ERROR" && strings.Contains(e, cause) {
			return nil
		}
	}
	return fmt.Errorf("no ERROR record %q for /page with %q in %v", msg, cause, recs)
}

// loggedFields checks that the dropped fields were logged with their size
// and the limit.
func (s *site) loggedFields() error {
	recs, err := s.logs.records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		msg, _ := r["msg"].(string)
		n, _ := r["bytes"].(float64)
		if strings.Contains(msg, logFieldsDropped) && r["level"] == "WARN" && n >= 1<<20 && r["limit"] == float64(8<<10) {
			return nil
		}
	}
	return fmt.Errorf("no WARN record %q with bytes ≥ 1 MiB and limit 8192 in %v", logFieldsDropped, recs)
}
