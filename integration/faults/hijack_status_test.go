package faults

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// dateLine matches the Date header, which differs between two responses.
var dateLine = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// TestHijackAfterWriteHeader: a handler that calls WriteHeader and then
// hijacks the connection (github.com/coder/websocket's Accept does so with
// 101 Switching Protocols) gets its status line and headers sent by
// net/http at the hijack. The middleware holds final statuses until the
// first write, so its hijack must send a held one first, or a WebSocket
// handshake from a client that sends no Sec-Fetch-Dest (any non-browser
// client, older browsers) hangs. Found by this suite; fixed in writer.go.
func TestHijackAfterWriteHeader(t *testing.T) {
	s := newSite(t)
	ctx, cancel := context.WithTimeout(t.Context(), faultTimeout)
	defer cancel()
	var got [2]string
	for i, prefix := range []string{"/bare", ""} {
		p := s.newProbe()
		conn, err := s.dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.sendGet(ctx, conn, prefix+"/hijack?status=101", hdrProbe, p.id,
			"Connection", "Upgrade", "Upgrade", "faults"); err != nil {
			t.Fatal(err)
		}
		b, err := readRaw(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := wait(ctx, p, "hijack"); err != nil {
			t.Fatal(err)
		}
		got[i] = dateLine.ReplaceAllString(string(b), "")
	}
	if !strings.HasPrefix(got[0], "HTTP/1.1 101 Switching Protocols\r\n") {
		t.Fatalf("without the middleware the connection carried %q, want the 101 status line first", got[0])
	}
	if got[1] != got[0] {
		t.Errorf("WriteHeader(101), then Hijack: the connection carried\n%q\nwant, as without the middleware,\n%q", got[1], got[0])
	}
	s.shutdown(t)
	goleak.VerifyNone(t)
}
