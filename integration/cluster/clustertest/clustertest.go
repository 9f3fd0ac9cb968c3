// Package clustertest starts, for a test, the real processes a site runs in
// production: redis-server, instances of the demo site (examples/demo) and
// nginx in front of them, all on loopback and all stopped when the test
// ends. Each waits for what the process itself says (its log line, its
// address), never for a fixed time, and listens on no fixed port.
//
// A program that is not installed skips the test, loudly; when the
// environment variable CI is set, it fails it instead (.ci/run installs
// Debian's redis-server and nginx).
package clustertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long a process may take to say it is ready.
const StartTimeout = 30 * time.Second

// Require returns the path of the program name, which the Debian package
// pkg installs, or skips t loudly when it is missing; when CI is set, it
// fails t instead.
func Require(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("NO %s: %s did not run. Install it (Debian: apt-get install %s).", name, t.Name(), pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " CI is set, so this fails.")
	}
	t.Skip("\n\n\t*** " + msg + " ***\n\n")
	return ""
}

// logBuffer keeps what a process writes, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A process is a started command whose output is kept, and whose output
// lines are also offered, until one is taken, to waitLine.
type process struct {
	name  string
	cmd   *exec.Cmd
	out   logBuffer
	lines chan string   // the output's lines, while someone waits for one
	done  chan struct{} // closed when the process has exited
	err   error         // cmd.Wait's, once done is closed
	once  sync.Once     // stop
}

// start starts cmd, reading its stdout and stderr as one stream, and stops
// it when t ends: the process gets SIGTERM, then SIGKILL after a few
// seconds. On Linux it also gets SIGTERM if the test process dies first.
func start(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go p.read(pr)
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// read copies the output to p.out and offers each line to waitLine.
func (p *process) read(r io.Reader) {
	sc := bufio.NewScanner(io.TeeReader(r, &p.out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		select {
		case p.lines <- sc.Text():
		default: // nobody waits: the line is in p.out all the same
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner
}

// waitLine returns the first line of output not yet taken for which match
// returns true, or fails t when the process exits or StartTimeout passes.
func (p *process) waitLine(t testing.TB, match func(string) bool) string {
	t.Helper()
	l, err := p.waitLineErr(match)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// waitLineErr is waitLine returning an error instead of failing a test; the
// error holds the process's output.
func (p *process) waitLineErr(match func(string) bool) (string, error) {
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if match(l) {
				return l, nil
			}
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before it was ready; its output:\n%s", p.name, p.err, p.out.String())
		case <-timer.C:
			return "", fmt.Errorf("%s not ready after %v; its output:\n%s", p.name, StartTimeout, p.out.String())
		}
	}
}

// stop ends the process, if it is still running, and waits for it; when t
// failed, it logs the process's output. Only the first call does anything.
func (p *process) stop(t testing.TB) {
	p.once.Do(func() { p.stopOnce(t) })
}

func (p *process) stopOnce(t testing.TB) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("output of %s:\n%s", p.name, p.out.String())
	}
}

// Output returns what the process wrote so far, stdout and stderr.
func (p *process) Output() string { return p.out.String() }

// containsAny reports whether s contains one of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
