package site

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chatwidget/chatwidget"
)

// config is what the command line and the environment ask for.
type config struct {
	Addr       string        // -addr, CHATWIDGET_ADDR
	Origin     string        // -origin, CHATWIDGET_ORIGIN; empty: from the listen address
	KeyFile    string        // -key, CHATWIDGET_KEY; empty: a throwaway key
	WidgetID   string        // -widget, CHATWIDGET_WIDGET
	SessionKey string        // CHATWIDGET_SESSION_KEY; empty: a random key
	TTL        time.Duration // -ttl, CHATWIDGET_TTL
	Refresh    bool          // -refresh, CHATWIDGET_REFRESH
	Redis      string        // -redis, CHATWIDGET_REDIS; empty: sessions in the cookie
	Publish    []string      // -publish (repeated), CHATWIDGET_PUBLISH; nil: none
}

// parseConfig reads the flags in args, falling back on getenv for each flag
// not given and on the defaults after that. Usage and flag errors go to
// stderr.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.Addr, "addr", envOr(getenv, "CHATWIDGET_ADDR", "127.0.0.1:8080"),
		"listen `address` (env CHATWIDGET_ADDR)")
	fs.StringVar(&c.Origin, "origin", getenv("CHATWIDGET_ORIGIN"),
		"the `origin` browsers reach the demo at, e.g. https://demo.example behind a TLS proxy (env CHATWIDGET_ORIGIN); empty: http:// and the listen address")
	fs.StringVar(&c.KeyFile, "key", getenv("CHATWIDGET_KEY"),
		"RSA private key PEM `file` (env CHATWIDGET_KEY); empty: a throwaway 2048-bit key")
	fs.StringVar(&c.WidgetID, "widget", envOr(getenv, "CHATWIDGET_WIDGET", "demo-widget"),
		"widget `ID` from the vendor's settings (env CHATWIDGET_WIDGET)")
	ttl, ttlErr := envDuration(getenv, "CHATWIDGET_TTL", chatwidget.DefaultTTL)
	fs.DurationVar(&c.TTL, "ttl", ttl,
		"how long each token is valid, 1s to 24h (env CHATWIDGET_TTL)")
	refresh, refreshErr := envBool(getenv, "CHATWIDGET_REFRESH", true)
	fs.BoolVar(&c.Refresh, "refresh", refresh,
		"keep the token of open tabs fresh from "+tokenPath+"; -refresh=false to turn off (env CHATWIDGET_REFRESH)")
	fs.StringVar(&c.Redis, "redis", getenv("CHATWIDGET_REDIS"),
		"keep sessions in the Redis server at `address` (host:port, redis://host:port/db, unix:///path.sock), shared by every instance (env CHATWIDGET_REDIS); empty: in the cookie")
	publish := &pathList{paths: splitPaths(getenv("CHATWIDGET_PUBLISH"))}
	fs.Var(publish, "publish",
		"public key PEM `file` to publish at "+jwksPath+" beside the signing key (rotation); repeatable (env CHATWIDGET_PUBLISH, separated by "+string(filepath.ListSeparator)+")")
	if err := errors.Join(ttlErr, refreshErr); err != nil {
		return config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q; see -h", fs.Args())
	}
	if c.Origin != "" {
		if err := checkOrigin(c.Origin); err != nil {
			return config{}, fmt.Errorf("-origin: %w", err)
		}
	}
	c.Publish = publish.paths
	c.SessionKey = getenv("CHATWIDGET_SESSION_KEY")
	return c, nil
}

// pathList is the value of a repeatable flag of file paths: the first Set
// replaces the paths from the environment, later ones add to it.
type pathList struct {
	paths []string
	set   bool
}

// String returns the paths, joined by the OS path-list separator.
func (p *pathList) String() string { return strings.Join(p.paths, string(filepath.ListSeparator)) }

// Set adds path.
func (p *pathList) Set(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	if !p.set {
		p.paths, p.set = nil, true
	}
	p.paths = append(p.paths, path)
	return nil
}

// splitPaths splits a list of paths joined by the OS path-list separator;
// the empty string is no path.
func splitPaths(s string) []string {
	if s == "" {
		return nil
	}
	return filepath.SplitList(s)
}

// envOr returns the environment variable name, or def when it is empty.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// envDuration returns the duration in the environment variable name, or def
// when it is empty.
func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a duration; write one like 10m or 90s", name, v)
	}
	return d, nil
}

// envBool returns the boolean in the environment variable name, or def when
// it is empty.
func envBool(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not a boolean; write true or false", name, v)
	}
	return b, nil
}

// Run is the demo command (examples/demo): it parses the flags in args
// (documented there), falling back on getenv for each flag not given,
// listens, builds the site for the origin browsers reach it at, prints that
// and the public key to paste into the vendor's settings on stdout, and
// serves until the listener fails. Usage and flag errors go to stderr; -h
// returns [flag.ErrHelp].
//
// Accounts are more users POST /login accepts beside Alice and Bob, which
// the login form does not list: the accounts a load test logs in as
// (integration/cluster runs the demo with 50 of them).
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer, accounts ...User) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	key, err := loadKey(cfg.KeyFile)
	if err != nil {
		return err
	}
	published, err := loadPublished(cfg.Publish)
	if err != nil {
		return err
	}
	acfg := appConfig{
		WidgetID: cfg.WidgetID, Key: key, SessionKey: []byte(cfg.SessionKey),
		TTL: cfg.TTL, Refresh: cfg.Refresh, Published: published, Accounts: accounts,
	}
	if cfg.Redis != "" {
		store, closeStore, err := openRedisStore(context.Background(), cfg.Redis, []byte(cfg.SessionKey))
		if err != nil {
			return err
		}
		defer closeStore()
		acfg.Store = store
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	acfg.Origin = cfg.Origin
	if acfg.Origin == "" {
		if acfg.Origin, err = listenOrigin(ln.Addr()); err != nil {
			return err
		}
	}
	s, err := newApp(acfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chatwidget demo: %s/ (widget %s)\n\n", acfg.Origin, cfg.WidgetID)
	fmt.Fprintf(stdout, "Paste this public key into the vendor's settings for widget %s\n(the demo's stand-in vendor, under %s, has it already):\n\n%s\n", cfg.WidgetID, simPrefix, s.PublicKey)
	if cfg.KeyFile == "" {
		fmt.Fprintln(stdout, "(a throwaway key: it changes at every start; pass -key private.pem to keep one)")
	}
	if cfg.Redis != "" {
		fmt.Fprintf(stdout, "\nSessions in Redis at %s.\n", cfg.Redis)
	}
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// checkOrigin reports whether origin is a scheme (http or https) and a
// host, with an optional port and nothing else, as browsers serialize an
// origin.
func checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Scheme+"://"+u.Host != origin {
		return fmt.Errorf("origin %q must be a scheme and a host, with no path or trailing slash, like http://127.0.0.1:8080 or https://demo.example", origin)
	}
	return nil
}

// listenOrigin returns the origin of the listen address addr: http and
// its host, or localhost for an unspecified one (0.0.0.0, ::). Plain http
// serves the widget only on a loopback address (chatwidget refuses a plain
// http script elsewhere), so any other host is an error that says to pass
// -origin.
func listenOrigin(addr net.Addr) (string, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.IsUnspecified():
		host = "localhost"
	case ip == nil || !ip.IsLoopback():
		return "", fmt.Errorf("listening on %s, which is not a loopback address, the widget would load over plain http; pass -origin with the https origin browsers reach the demo at (e.g. behind a TLS proxy)", addr)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
