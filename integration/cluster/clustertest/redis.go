package clustertest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server started by [StartRedis].
type Redis struct {
	// URL is the server's address for the demo's -redis flag and for
	// redis.ParseURL: unix:///…/redis.sock.
	URL string
	*process
}

// StartRedis starts redis-server for t, listening on a Unix socket in a
// temporary directory only (no TCP port, so nothing can take it first),
// with nothing saved to disk, and returns once it answers PING. It stops
// when t ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	exe := Require(t, "redis-server", "redis-server")
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(exe,
		"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--loglevel", "notice", "--logfile", "")
	p := start(t, "redis-server", cmd)
	p.waitLine(t, func(l string) bool { return strings.Contains(strings.ToLower(l), "ready to accept connections") })
	r := &Redis{URL: "unix://" + sock, process: p}
	c := r.Client(t)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis-server said it was ready, but PING: %v", err)
	}
	return r
}

// Client returns a client of r, closed when t ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
