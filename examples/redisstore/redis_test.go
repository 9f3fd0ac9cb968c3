package redisstore_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisTimeout bounds how long redis-server may take to say it is ready.
const redisTimeout = 30 * time.Second

// startRedis starts redis-server for t, listening on a Unix socket in a
// temporary directory only (no TCP port), with nothing saved to disk, and
// returns a client of it once the server says it is ready and answers PING.
// Both are closed when t ends. Without redis-server the test is skipped,
// loudly, unless CI is set: then it fails.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	exe, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "NO redis-server: " + t.Name() + " did not run. Install it (Debian: apt-get install redis-server)."
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " CI is set, so this fails.")
		}
		t.Skip("\n\n\t*** " + msg + " ***\n\n")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(exe, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", "")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	ready, drained := make(chan struct{}), make(chan struct{})
	var out strings.Builder // what redis-server said until it was ready
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(strings.ToLower(sc.Text()), "ready to accept connections") {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case <-exited:
		<-drained
		t.Fatalf("redis-server exited before it was ready; its output:\n%s", out.String())
	case <-time.After(redisTimeout):
		t.Fatalf("redis-server not ready after %v", redisTimeout)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis-server said it was ready, but PING: %v\n%s", err, out.String())
	}
	return c
}
