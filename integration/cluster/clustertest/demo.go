package clustertest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// demoPackage is the import path of the demo site as the cluster runs it:
// the demo's command with the load-test accounts.
const demoPackage = "github.com/chatwidget/chatwidget/integration/cluster/clusterdemo"

// BuildDemo builds the demo site (clusterdemo) into dir, with the race detector when race
// is true, and returns the binary's path. Call it once, from TestMain: the
// build takes seconds.
func BuildDemo(dir string, race bool) (string, error) {
	exe := filepath.Join(dir, "demo")
	args := []string{"build", "-o", exe}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, demoPackage)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", demoPackage, err, out)
	}
	return exe, nil
}

// DemoConfig is how to run one instance of the demo; each field is one of
// its flags, or clusterdemo's -soak-users.
type DemoConfig struct {
	Bin        string        // from BuildDemo
	WidgetID   string        // -widget; required
	KeyFile    string        // -key; required, so that instances share the key
	SessionKey string        // CHATWIDGET_SESSION_KEY; required with Redis
	Redis      string        // -redis, e.g. Redis.URL; empty: cookie sessions
	Publish    []string      // -publish, each
	TTL        time.Duration // -ttl; 0: the demo's default
	SoakUsers  int           // clusterdemo's -soak-users
	Refresh    bool          // -refresh
}

// args returns the demo's command line for c, listening on a port of the
// system's choosing on loopback.
func (c DemoConfig) args() []string {
	args := []string{"-soak-users", strconv.Itoa(c.SoakUsers), "--",
		"-addr", "127.0.0.1:0", "-widget", c.WidgetID, "-key", c.KeyFile, "-refresh=" + strconv.FormatBool(c.Refresh)}
	if c.Redis != "" {
		args = append(args, "-redis", c.Redis)
	}
	for _, p := range c.Publish {
		args = append(args, "-publish", p)
	}
	if c.TTL != 0 {
		args = append(args, "-ttl", c.TTL.String())
	}
	return args
}

// Demo is an instance of the demo site started by [StartDemo].
type Demo struct {
	URL  string // http://127.0.0.1:port, no trailing slash
	Addr string // 127.0.0.1:port
	*process
}

// StartDemo starts an instance of the demo with c, as a process of its own,
// and returns once it listens. It stops when t ends, or at [Demo.Stop].
// Every setting comes from c: the CHATWIDGET_ variables of the test's
// environment are not passed on.
func StartDemo(t testing.TB, c DemoConfig) *Demo {
	t.Helper()
	cmd := exec.Command(c.Bin, c.args()...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATWIDGET_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if c.SessionKey != "" {
		cmd.Env = append(cmd.Env, "CHATWIDGET_SESSION_KEY="+c.SessionKey)
	}
	p := start(t, "demo "+c.WidgetID, cmd)
	const ready = "chatwidget demo: "
	l := p.waitLine(t, func(l string) bool { return strings.HasPrefix(l, ready) })
	raw, _, _ := strings.Cut(strings.TrimPrefix(l, ready), " ")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("demo said %q, want %q and its URL", l, ready)
	}
	return &Demo{URL: "http://" + u.Host, Addr: u.Host, process: p}
}

// Stop stops the instance and waits for it to exit.
func (d *Demo) Stop(t testing.TB) { d.stop(t) }

// Problems returns the lines of the instance's output that report a
// problem: log records at level WARN or ERROR, panics, and data races (an
// instance built with the race detector).
func (d *Demo) Problems() []string {
	var out []string
	for l := range strings.Lines(d.Output()) {
		if containsAny(l, " WARN ", " ERROR ", "level=WARN", "level=ERROR", "panic", "DATA RACE") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
