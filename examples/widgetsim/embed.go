package widgetsim

import (
	_ "embed"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// widgetJS is the body of the widget's script. It is served inside a
// function that receives the configuration (see [Sim.serveEmbed]).
//
//go:embed widget.js
var widgetJS string

// widgetIDPattern is the set of widget IDs chatwidget accepts.
var widgetIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// widgetConfig is what the widget learns from the server, JSON-encoded.
type widgetConfig struct {
	Widget      string `json:"widget"`      // the widget ID
	Prefix      string `json:"prefix"`      // the Sim's prefix
	Verify      string `json:"verify"`      // the URL path of the verify endpoint
	Skew        int64  `json:"skew"`        // the Sim's leeway, in milliseconds
	ExpiredHook string `json:"expiredHook"` // the page's function to call on an expired token
}

// EmbedTemplate returns the vendor's embed code for a Sim mounted at prefix
// on the site at origin, to pass to chatwidget.WithEmbedTemplate: a deferred
// script loaded from the Sim's embed endpoint, WIDGET_ID standing for the
// widget ID.
//
// origin is the scheme, host and port the site is reached at, with no path
// and no trailing slash, e.g. "https://shop.example" or
// "http://127.0.0.1:8080": the script's URL must be absolute, since a
// <base href> in the page's markup would change where a relative one loads
// from, and chatwidget.New refuses a relative one (and plain http except on
// a loopback address).
//
// The templates depend on the origin and the prefix only, not on the key,
// so a site builds them before its chatwidget Middleware and the Sim after
// it, from the Middleware's public key. prefix must be the Sim's
// ([DefaultPrefix], or what it is given with [WithPrefix]); EmbedTemplate
// checks neither ([New] checks the prefix, chatwidget.New the URL), but
// escapes origin for the attribute.
func EmbedTemplate(origin, prefix string) string {
	return `<script src="` + html.EscapeString(origin) + prefix + `embed/WIDGET_ID.js" defer></script>`
}

// CustomerDataTemplate returns the vendor's customer-data code, to pass to
// chatwidget.WithCustomerDataTemplate: a function the widget calls to get
// the token, JWT_TOKEN standing for it. It is the same for every Sim.
func CustomerDataTemplate() string {
	return `<script>window.chatWidgetCustomerData=function(done){done("JWT_TOKEN")};</script>`
}

// AnonymousTemplate returns the code, to pass to
// chatwidget.WithAnonymousTemplate, that tells the widget nobody is logged in
// now, so that it forgets the visitor it remembers. It is the same for every
// Sim.
func AnonymousTemplate() string {
	return `<script>window.chatWidgetAnonymous=true;</script>`
}

// EmbedTemplate returns [EmbedTemplate] of origin and the Sim's prefix.
func (s *Sim) EmbedTemplate(origin string) string {
	return EmbedTemplate(origin, s.prefix)
}

// CustomerDataTemplate returns [CustomerDataTemplate].
func (s *Sim) CustomerDataTemplate() string {
	return CustomerDataTemplate()
}

// AnonymousTemplate returns [AnonymousTemplate].
func (s *Sim) AnonymousTemplate() string {
	return AnonymousTemplate()
}

// serveEmbed serves the widget script for file, "{widgetID}.js". The script
// is widget.js inside a function called with the configuration as a JSON
// literal, so that no value reaches the script's source unescaped.
func (s *Sim) serveEmbed(w http.ResponseWriter, r *http.Request, file string) {
	id, ok := strings.CutSuffix(file, ".js")
	if !ok || !widgetIDPattern.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed; use GET", http.StatusMethodNotAllowed)
		return
	}
	cfg, err := json.Marshal(widgetConfig{
		Widget: id, Prefix: s.prefix, Verify: s.prefix + "verify",
		Skew: s.skew.Milliseconds(), ExpiredHook: ExpiredHook,
	})
	if err != nil { // cannot happen: strings and a number
		http.Error(w, "cannot encode the widget configuration", http.StatusInternalServerError)
		return
	}
	tail := append(cfg, ");\n"...)
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(s.jsHead)+len(tail)))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.WriteString(w, s.jsHead); err != nil {
		return // the client went away
	}
	_, _ = w.Write(tail)
}

// scriptHead returns the constant start of every widget script: widget.js
// inside a function of the configuration, up to the "(" of its call.
func scriptHead() string {
	return "(function (config) {\n" + widgetJS + "\n})("
}
