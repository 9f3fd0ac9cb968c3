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
//	-origin  where browsers reach the demo, e.g. https://demo.example
//	         behind a TLS proxy (CHATWIDGET_ORIGIN, default http:// and
//	         the listen address, localhost for an unspecified host); the
//	         widget's script loads from there, by an absolute URL
//	-key     RSA private key PEM file (CHATWIDGET_KEY, default: a throwaway
//	         2048-bit key generated at start)
//	-widget  widget ID (CHATWIDGET_WIDGET, default demo-widget)
//	-ttl     how long each token is valid (CHATWIDGET_TTL, default 10m)
//	-refresh whether logged-in pages keep their token fresh from
//	         /chatwidget/token (CHATWIDGET_REFRESH, default true)
//	-redis   keep sessions in the Redis server at this address (host:port,
//	         redis://host:port/db or unix:///path.sock), shared by every
//	         instance (CHATWIDGET_REDIS, default: in the cookie)
//	-publish a public key PEM file to publish at /.well-known/jwks.json
//	         beside the signing key, for key rotation; repeatable
//	         (CHATWIDGET_PUBLISH, files separated by the OS path-list
//	         separator)
//
// CHATWIDGET_SESSION_KEY (at least 32 characters) keeps sessions valid across
// restarts; without it each start signs session cookies with a new random key.
// With -redis it is required: every instance signs session IDs with it.
//
// The site itself is package [github.com/chatwidget/chatwidget/examples/demo/site].
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/chatwidget/chatwidget/examples/demo/site"
)

// main runs the demo and exits non-zero when it cannot start.
func main() {
	if err := site.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
