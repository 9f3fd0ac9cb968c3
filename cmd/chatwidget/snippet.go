package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/chatwidget/chatwidget"
)

func snippetCommand() *command {
	return &command{
		name:     "snippet",
		synopsis: "-widget ID -key private.pem [-embed file] [-customer-data file] [-ttl 10m] [claims.json | -]",
		short:    "print the widget HTML to place in a page by hand",
		doc: "Snippet prints the widget's HTML, to place by hand before </body> of a page made\n" +
			"outside the middleware (a static page, an e-mail): the embed code and, for the visitor\n" +
			"of the claims file (\"-\": standard input), the customer-data code with their token.\n" +
			"Without a claims file it prints the anonymous widget. See sign for the claims.",
		maxArgs: 1,
		setup: func(fs *flag.FlagSet) action {
			widget := fs.String("widget", "", "widget `ID`, from the vendor's settings")
			key := fs.String("key", "", "private key `file` (PEM)")
			embed := fs.String("embed", "", "`file` holding the vendor's embed code (default: the library's DefaultEmbedTemplate)")
			customerData := fs.String("customer-data", "", "`file` holding the vendor's customer-data code (default: the library's DefaultCustomerDataTemplate)")
			ttl := ttlFlag(fs)
			return func(e *env, args []string) error {
				if err := required([2]string{"widget", *widget}, [2]string{"key", *key}); err != nil {
					return err
				}
				ttlOpt, err := ttlOption(*ttl)
				if err != nil {
					return err
				}
				opts := []chatwidget.Option{ttlOpt}
				for _, t := range []struct {
					path string
					opt  func(string) chatwidget.Option
				}{{*embed, chatwidget.WithEmbedTemplate}, {*customerData, chatwidget.WithCustomerDataTemplate}} {
					if t.path == "" {
						continue
					}
					b, err := os.ReadFile(t.path)
					if err != nil {
						return err
					}
					opts = append(opts, t.opt(string(b)))
				}
				return snippet(e, *widget, *key, arg(args, 0), len(args) > 0, opts)
			}
		},
	}
}

// snippet prints the snippet for the visitor in claimsArg, or the anonymous
// one when there is no claims argument.
func snippet(e *env, widget, key, claimsArg string, haveClaims bool, opts []chatwidget.Option) error {
	var (
		mw  *chatwidget.Middleware
		v   *chatwidget.Visitor
		err error
	)
	if haveClaims {
		mw, v, err = loadVisitor(e, "snippet", widget, key, claimsArg, opts...)
	} else {
		mw, err = newMiddleware(e, "snippet", widget, key, opts...)
	}
	if err != nil {
		return err
	}
	html, err := mw.SnippetFor(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, html)
	return err
}
