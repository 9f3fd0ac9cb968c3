// Loadtest serves the page that scripts/loadtest loads with wrk: an
// [html/template] catalogue page of about 30 KB (styles, a nav, 100 products
// with attributes, a footer, scripts), rendered on every request for a
// logged-in visitor, either served as it is (-mode bare) or through
// chatwidget's mw.Handler (-mode injected), which inserts the widget with the
// visitor's token before </body>. By default the visitor is always the same,
// so the token is signed once and then taken from the middleware's cache, as
// for a visitor who browses a site. With -visitors N, each request names its
// visitor with a session cookie, sid=0 to sid=N-1 (visitors.lua makes wrk go
// round them), and each visitor has a token of their own.
//
// Run it from the repository (the go.work covers the integration module):
//
//	go run ./integration/loadtest -mode injected [-addr 127.0.0.1:0] [-visitors N] [-cpuprofile injected.pprof]
//
// It listens on loopback only and prints its URL, e.g. http://127.0.0.1:41234/,
// as the first line on stdout. It signs with a throwaway 2048-bit key made at
// start. With -cpuprofile it writes a CPU profile when it gets SIGINT or
// SIGTERM. The injected server also answers /debug/stats with the
// middleware's Stats as JSON.
//
// With -warm URL it serves nothing: it loads the page at URL (a loopback
// address) once for each of the -visitors visitors, eight at a time, and
// exits: the warm-up pass that puts every visitor's token in the cache.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/chatwidget/chatwidget"
)

// main serves until SIGINT or SIGTERM and exits non-zero when it cannot
// start.
func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// The modes of -mode.
const (
	modeBare     = "bare"
	modeInjected = "injected"
)

// run parses args, listens, prints the URL on stdout and serves until a
// signal arrives.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback listen `address`; port 0 picks a free port")
	mode := fs.String("mode", modeInjected, "`mode`: bare (the page alone) or injected (through chatwidget)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `file` on SIGINT or SIGTERM")
	visitors := fs.Int("visitors", 0, "`number` of distinct visitors, named by the cookie sid=0 to sid=N-1; 0: one visitor for every request")
	warmURL := fs.String("warm", "", "load the page at `URL` once per visitor and exit, instead of serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *visitors < 0 {
		return fmt.Errorf("-visitors %d: want 0 or more", *visitors)
	}
	if *warmURL != "" {
		return warm(*warmURL, *visitors, stdout)
	}
	h, err := newHandler(*mode, nil, *visitors)
	if err != nil {
		return err
	}
	ln, err := listenLoopback(*addr)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "http://%s/\n", ln.Addr())
	return serve(ln, h)
}

// newHandler returns the site (the page at /, the JSON catalogue at
// /products.json) for mode: bare, or wrapped by a chatwidget middleware that
// signs with key (nil: a throwaway 2048-bit key), for one visitor or, when
// visitors > 0, for that many, named by their session cookie.
func newHandler(mode string, key *rsa.PrivateKey, visitors int) (http.Handler, error) {
	page, err := newPageHandler()
	if err != nil {
		return nil, err
	}
	site := http.NewServeMux()
	site.Handle("GET /{$}", page)
	site.Handle("GET /products.json", productsHandler(page.data.Products))
	switch mode {
	case modeBare:
		return site, nil
	case modeInjected:
	default:
		return nil, fmt.Errorf("-mode %q: want %s or %s", mode, modeBare, modeInjected)
	}
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("generate a throwaway key: %w", err)
		}
	}
	var resolver chatwidget.Resolver = chatwidget.ResolverFunc(visitor)
	if visitors > 0 {
		resolver = sessionVisitors(visitors)
	}
	mw, err := chatwidget.New("loadtest-widget", chatwidget.KeyRSA(key), resolver)
	if err != nil {
		return nil, err
	}
	top := http.NewServeMux()
	top.Handle("GET /debug/stats", statsHandler(mw))
	top.Handle("/", mw.Handler(site))
	return top, nil
}

// statsHandler answers the middleware's Stats as JSON.
func statsHandler(mw *chatwidget.Middleware) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(mw.Stats())
	})
}

// listenLoopback listens on addr, which must be a loopback address, so that
// the load never leaves the machine.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-addr %q: want a loopback IP address such as 127.0.0.1:0", addr)
	}
	return net.Listen("tcp", addr)
}

// startCPUProfile starts profiling into path and returns what stops it and
// closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// serve serves h on ln until SIGINT or SIGTERM, then shuts down, giving open
// requests five seconds.
func serve(ln net.Listener, h http.Handler) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
