package main

import (
	"flag"
	"fmt"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/internal/mobileurl"
)

func mobileURLCommand() *command {
	return &command{
		name:     "mobile-url",
		synopsis: "-widget ID -key private.pem -template URL [-ttl 10m] [claims.json | -]",
		short:    "print the vendor's mobile chat URL for a visitor",
		doc: "Mobile-url prints the URL that opens the vendor's chat for the visitor of the claims\n" +
			"file (\"-\" or none: standard input) in a mobile app or a web view. The template is\n" +
			"the vendor's URL with the placeholders WIDGET_ID and JWT_TOKEN, for instance\n" +
			"https://chat.example.com/mobile/WIDGET_ID?jwt=JWT_TOKEN; each is escaped for the part\n" +
			"of the URL it stands in (path, query or fragment). See sign for the claims.",
		maxArgs: 1,
		setup: func(fs *flag.FlagSet) action {
			widget := fs.String("widget", "", "widget `ID`, from the vendor's settings")
			key := fs.String("key", "", "private key `file` (PEM)")
			tmpl := fs.String("template", "", "the vendor's mobile `URL`, with WIDGET_ID and JWT_TOKEN")
			ttl := ttlFlag(fs)
			return func(e *env, args []string) error {
				if err := required([2]string{"widget", *widget}, [2]string{"key", *key}, [2]string{"template", *tmpl}); err != nil {
					return err
				}
				ttlOpt, err := ttlOption(*ttl)
				if err != nil {
					return err
				}
				// Check the template before reading claims or keys.
				if err := mobileurl.Check(*tmpl); err != nil {
					return usagef("-template: %v", err)
				}
				mw, v, err := loadVisitor(e, "mobile-url", *widget, *key, arg(args, 0), ttlOpt, chatwidget.WithMobileURLTemplate(*tmpl))
				if err != nil {
					return err
				}
				u, err := mw.MobileURLFor(v)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, u)
				return err
			}
		},
	}
}
