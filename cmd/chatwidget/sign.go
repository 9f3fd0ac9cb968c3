package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatwidget/chatwidget"
)

// defaultWidgetID is the widget ID of sign, which does not put it in the
// token.
const defaultWidgetID = "cli"

func signCommand() *command {
	return &command{
		name:     "sign",
		synopsis: "-key private.pem [-ttl 10m] [-widget ID] [claims.json | -]",
		short:    "print the signed token of a visitor",
		doc: "Sign prints the token (RS256, one line) for the visitor described by the claims file,\n" +
			"or standard input when it is \"-\" or not given: a JSON object with \"name\" (required),\n" +
			"\"email\", \"sub\" and custom fields with string, number or bool values. \"isLoggedIn\",\n" +
			"\"iat\" and \"exp\" are set by the signer (input values are ignored with a warning);\n" +
			"\"iss\", \"aud\", \"nbf\" and \"jti\" are rejected.",
		maxArgs: 1,
		setup: func(fs *flag.FlagSet) action {
			key := fs.String("key", "", "private key `file` (PEM: PKCS#8 or PKCS#1 RSA, 2048 bits or more)")
			ttl := ttlFlag(fs)
			widget := fs.String("widget", defaultWidgetID, "widget `ID` (checked, but not part of the token)")
			return func(e *env, args []string) error {
				if err := required([2]string{"key", *key}); err != nil {
					return err
				}
				ttlOpt, err := ttlOption(*ttl)
				if err != nil {
					return err
				}
				mw, v, err := loadVisitor(e, "sign", *widget, *key, arg(args, 0), ttlOpt)
				if err != nil {
					return err
				}
				tok, _, err := mw.TokenFor(v)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, tok)
				return err
			}
		},
	}
}

// arg returns args[i], or "" when there is none.
func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// A warnFunc reports a problem that does not stop the command.
type warnFunc func(format string, args ...any)

func (e *env) warner(cmd string) warnFunc {
	return func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "chatwidget "+cmd+": warning: "+format+"\n", args...)
	}
}

// loadVisitor reads the claims at claimsArg (a file, or stdin for "" or
// "-"), then makes the middleware that signs for them.
func loadVisitor(e *env, cmd, widget, keyPath, claimsArg string, opts ...chatwidget.Option) (*chatwidget.Middleware, *chatwidget.Visitor, error) {
	b, src, err := readInput(e, claimsArg)
	if err != nil {
		return nil, nil, err
	}
	v, err := parseVisitor(b, src, e.warner(cmd))
	if err != nil {
		return nil, nil, err
	}
	mw, err := newMiddleware(e, cmd, widget, keyPath, opts...)
	return mw, v, err
}

// newMiddleware makes a middleware that signs with the key in keyPath and
// logs its warnings to stderr. Its resolver is never called: the commands
// give it their visitor.
func newMiddleware(e *env, cmd, widget, keyPath string, opts ...chatwidget.Option) (*chatwidget.Middleware, error) {
	nobody := chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil })
	opts = append([]chatwidget.Option{chatwidget.WithLogger(stderrLogger(e, cmd))}, opts...)
	return chatwidget.New(widget, chatwidget.KeyFile(keyPath), nobody, opts...)
}

// stderrLogger logs warnings and errors to stderr, one line each, in the form
// of the command's own warnings.
func stderrLogger(e *env, cmd string) *slog.Logger {
	return slog.New(&lineHandler{warn: e.warner(cmd)})
}

// lineHandler is a slog.Handler that writes records of level Warn and above
// as "msg key=value ..." through a warnFunc.
type lineHandler struct {
	warn  warnFunc
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	line := trimPrefix(r.Message)
	add := func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%q", a.Key, a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.warn("%s", line)
	return nil
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lineHandler{warn: h.warn, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }

// The bounds of -ttl, those of chatwidget.WithTTL.
const (
	minTTL = time.Second
	maxTTL = 24 * time.Hour
)

// ttlFlag defines the -ttl flag of the commands that put a token in their
// output.
func ttlFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("ttl", chatwidget.DefaultTTL, "how long the token stays valid, 1s to 24h")
}

// ttlOption checks the -ttl flag and returns its option.
func ttlOption(ttl time.Duration) (chatwidget.Option, error) {
	if ttl < minTTL || ttl > maxTTL {
		return nil, usagef("-ttl %v is out of range; use %v to %v", ttl, minTTL, maxTTL)
	}
	return chatwidget.WithTTL(ttl), nil
}
