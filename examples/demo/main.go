// Demo is a small site that shows the chatwidget middleware at work: two demo
// users log in and out, and every page carries the chat widget of a local
// stand-in for the vendor (package widgetsim, served under /widgetsim/),
// which verifies the signed token and greets the visitor by name. Every
// response carries a strict nonce-based Content-Security-Policy.
//
// Run it from the examples module:
//
//	cd examples && go run ./demo
//
// Flags, each with an environment fallback:
//
//	-addr    listen address (CHATWIDGET_ADDR, default 127.0.0.1:8080)
//	-key     RSA private key PEM file (CHATWIDGET_KEY, default: a throwaway
//	         2048-bit key generated at start)
//	-widget  widget ID (CHATWIDGET_WIDGET, default demo-widget)
//	-ttl     how long each token is valid (CHATWIDGET_TTL, default 10m)
//	-refresh whether logged-in pages keep their token fresh from
//	         /chatwidget/token (CHATWIDGET_REFRESH, default true)
//
// CHATWIDGET_SESSION_KEY (at least 32 characters) keeps sessions valid across
// restarts; without it each start signs session cookies with a new random key.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/chatwidget/chatwidget"
)

// main runs the demo and exits non-zero when it cannot start.
func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// config is what the command line and the environment ask for.
type config struct {
	Addr       string        // -addr, CHATWIDGET_ADDR
	KeyFile    string        // -key, CHATWIDGET_KEY; empty: a throwaway key
	WidgetID   string        // -widget, CHATWIDGET_WIDGET
	SessionKey string        // CHATWIDGET_SESSION_KEY; empty: a random key
	TTL        time.Duration // -ttl, CHATWIDGET_TTL
	Refresh    bool          // -refresh, CHATWIDGET_REFRESH
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
	if err := errors.Join(ttlErr, refreshErr); err != nil {
		return config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q; see -h", fs.Args())
	}
	c.SessionKey = getenv("CHATWIDGET_SESSION_KEY")
	return c, nil
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

// run parses the configuration, builds the app, prints where it listens and
// the public key to paste into the vendor's settings, and serves.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	key, err := loadKey(cfg.KeyFile)
	if err != nil {
		return err
	}
	s, err := newApp(appConfig{
		WidgetID: cfg.WidgetID, Key: key, SessionKey: []byte(cfg.SessionKey),
		TTL: cfg.TTL, Refresh: cfg.Refresh,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chatwidget demo: http://%s/ (widget %s)\n\n", ln.Addr(), cfg.WidgetID)
	fmt.Fprintf(stdout, "Paste this public key into the vendor's settings for widget %s\n(the demo's stand-in vendor, under %s, has it already):\n\n%s\n", cfg.WidgetID, simPrefix, s.PublicKey)
	if cfg.KeyFile == "" {
		fmt.Fprintln(stdout, "(a throwaway key: it changes at every start; pass -key private.pem to keep one)")
	}
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
