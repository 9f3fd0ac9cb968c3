package chatwidget

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Middleware inserts the chat widget, with the signed identity of the
// logged-in visitor, into the HTML pages of the handlers it wraps. Make one
// with [New]; it is safe for concurrent use.
type Middleware struct {
	resolver     Resolver
	signer       *signer
	embed        snippetTemplate
	customerData snippetTemplate
	anonymousTpl snippetTemplate
	refresh      snippetTemplate // nil unless WithRefresh
	refreshURL   *url.URL        // the path (and query) the refresh script fetches; nil unless WithRefresh
	mobile       string          // the mobile URL template; "" unless WithMobileURLTemplate
	widgetID     string
	anonymous    bool
	nonce        func(*http.Request) string
	skip         func(*http.Request) bool
	logger       *slog.Logger
	logs         *logLimiter // request-time records, rate limited
	published    []crypto.PublicKey
	counts       *counts
	scripts      templateScripts // what CSP looks at in the snippets
	endpoints    string          // the prefix of the middleware's own endpoints; "" if off
	own          ownEndpoints
}

// New returns a Middleware for the vendor's widget widgetID that signs
// tokens with key and asks resolver who each visitor is.
//
// New reports every problem with its arguments and options at once, each
// with what to do about it: a widget ID outside A-Z a-z 0-9 - _ (1 to 128
// characters), a key that is not an RSA private key of at least 2048 bits
// (encrypted, public, Ed25519, garbage; an ECDSA P-256 key only with
// [WithAlgorithm](ES256)), a nil resolver, a template without a
// <script> element, a TTL outside 1s to 24h. Its errors never hold key
// material.
func New(widgetID string, key Key, resolver Resolver, opts ...Option) (*Middleware, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	errs := []error{c.validate(widgetID)}
	if resolver == nil {
		errs = append(errs, errors.New("chatwidget: resolver is nil; pass a Resolver, a ResolverFunc or SessionResolver(store, name, keys)"))
	}
	logs := newLogLimiter(c.logger, c.logEvery, time.Now)
	var sgn *signer
	if key.load == nil {
		errs = append(errs, errors.New("chatwidget: key is missing; pass KeyFile(\"private.pem\"), KeyPEM(bytes), KeyRSA(k) or KeySigner(s)"))
	} else {
		var err error
		sgn, err = newSigner(key, &c, logs)
		errs = append(errs, err)
	}
	embed, customerData, anonymousTpl, err := compileTemplates(c.embed, c.customerData, c.anonymous, widgetID)
	errs = append(errs, err)
	refresh, err := compileRefresh(c.refresh, c.ttl, c.endpoints)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Middleware{
		resolver:     resolver,
		embed:        embed,
		customerData: customerData,
		anonymousTpl: anonymousTpl,
		refresh:      refresh,
		mobile:       c.mobile,
		widgetID:     widgetID,
		anonymous:    c.anonymousWidget,
		nonce:        c.nonce,
		skip:         c.skip,
		logger:       c.logger,
		logs:         logs,
		signer:       sgn,
		published:    c.published,
		counts:       new(counts),
		endpoints:    c.endpoints,
	}
	if c.refresh != nil {
		m.refreshURL = refreshURL(c.refresh.endpoint(c.endpoints))
	}
	m.findScripts()
	m.own = ownEndpoints{token: m.TokenHandler(), jwks: m.JWKSHandler()}
	if m.mobile != "" {
		m.own.mobile = m.MobileHandler()
	}
	return m, nil
}

// Handler returns next wrapped by the middleware. Its signature is
// func(http.Handler) http.Handler, so it can be passed to a router's Use
// (chi, gorilla/mux) as it is.
//
// Only requests that load a whole document are considered: a request whose
// Sec-Fetch-Dest is set to anything but "document" (an iframe, a fetch: htmx
// and Turbo fetch theirs) passes through untouched, except a
// <link rel=prefetch> (Sec-Purpose or Purpose: prefetch), whose response
// the browser keeps for a navigation. So does, from clients that send no
// Sec-Fetch-Dest, an htmx request (HX-Request) or a Turbo Frame request
// (Turbo-Frame); each of these gets only the Vary of the page it is a
// variant of. A HEAD request gets the headers of the page, and no widget.
// The middleware's own endpoints (token, jwks.json and mobile under the
// prefix of [WithEndpoints]) are answered by the middleware.
//
// The wrapped handler inserts the widget right before the first </body> end
// tag of each HTML response (see the package doc for the exact rules) and
// leaves every other response byte for byte alone. It never turns a good page
// into an error: a resolver that fails or panics, or a token that cannot be
// signed, gives the anonymous widget and a log record.
//
// The handler gets a ResponseWriter that, as net/http's own, must not be used
// after it returns: the middleware reuses it for later requests.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
}

// serve serves r with next, through the widget's response writer unless
// the skip predicate says otherwise. A request that does not load a
// document gets a writer that only gives an HTML page the Vary of the
// document it is a variant of.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if h := m.ownEndpoint(r.URL.Path); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	if m.skip != nil && m.skip(r) {
		next.ServeHTTP(w, steppedAside(r))
		return
	}
	document := loadedAsDocument(r)
	cw := newResponseWriter(w, r, m, !document)
	hw := cw.wrap()
	if document && r.Method != http.MethodHead {
		// Snippet finds the writer in the context, to make the headers
		// suit the widget it hands out.
		r = r.WithContext(context.WithValue(r.Context(), writerKey{}, hw))
		cw.r = r // the resolver sees what the handler did to it (gorilla/sessions keeps its registry in *r)
	}
	// Ending the response is not deferred: after a panic the response is
	// abandoned (net/http resets the connection), and writing the widget
	// would hide that. The deferred function only makes the handle dead
	// (under the lock, which waits for a call a goroutine of the handler's
	// began before the panic) and ends the decoder's goroutine; the writer
	// is left to the garbage collector, not the pool.
	returned := false
	defer func() {
		if !returned {
			cw.mu.Lock()
			cw.gen.Add(1)
			cw.mu.Unlock()
			cw.abandon() // end the decoder's goroutine, if any
		}
	}()
	next.ServeHTTP(hw, r)
	returned = true
	cw.end()
	cw.release()
}

// writerKey is the context key under which serve keeps the handler's
// writer, for Snippet.
type writerKey struct{}

// stepAsideKey marks the context of a request the middleware steps
// aside for (WithSkip, a Switch that picks none): Snippet gives it nothing,
// since no writer would keep its token's page out of shared caches.
type stepAsideKey struct{}

// steppedAside returns r marked for Snippet as a request the middleware
// steps aside for, unless Snippet gives it nothing anyway (it loads no
// document) or a middleware outside already wraps its response.
func steppedAside(r *http.Request) *http.Request {
	if r.Method == http.MethodHead || !loadedAsDocument(r) {
		return r
	}
	if _, wrapped := r.Context().Value(writerKey{}).(http.ResponseWriter); wrapped {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), stepAsideKey{}, true))
}

// Snippet returns the widget's HTML for the visitor of r, to place in a
// template by hand (for instance {{.ChatWidget}} before </body>). The first
// <script> tag carries the attribute data-chatwidget, so the middleware, when
// it wraps the same page, does not insert the widget a second time. It
// returns "" when the visitor is anonymous and [WithAnonymousWidget] is off.
//
// It also returns "" where the widget does not belong, or where its token
// could be stored by a shared cache: for a request that does not load a
// whole document (see [Middleware.Handler]: a fetch, an iframe, HEAD) or
// that the middleware steps aside for ([WithSkip], a [Switch] that picks
// none), and, in a response the middleware wraps, once that response's
// headers went out without what the widget needs (Cache-Control: private
// for a token, the Vary of a widget page), which is logged; call it before
// the first write.
// Called in time, it makes the wrapped response's headers suit the widget,
// whatever the handler set. A page served without the middleware needs
// Cache-Control: private set by the site.
func (m *Middleware) Snippet(r *http.Request) template.HTML {
	if r.Method == http.MethodHead || !loadedAsDocument(r) {
		return ""
	}
	hw, wrapped := r.Context().Value(writerKey{}).(http.ResponseWriter)
	if !wrapped && r.Context().Value(stepAsideKey{}) != nil {
		return ""
	}
	t := m.visitorToken(r)
	if t.token == "" && !m.anonymous {
		return ""
	}
	nonce, blocked := m.configuredNonce(r), ""
	if wrapped {
		var ok bool
		if !handOutTo(hw, m, t) {
			m.logs.log(r.Context(), logSnippetLate, slog.LevelWarn, "chatwidget: Snippet was called after the response's headers went out without Cache-Control: private and Vary; the page gets no widget: call Snippet before writing the page",
				slog.String("path", truncate(r.URL.Path, 200)))
			return ""
		}
		if nonce, blocked, ok = m.headerPoliciesNonce(hw.Header(), r, t, nonce); !ok {
			m.logs.log(r.Context(), logSnippetCSP, slog.LevelWarn, "chatwidget: the response's Content-Security-Policy lets no nonce run the widget Snippet would give; it gives nothing: allow scripts by nonce ('nonce-…' in script-src)",
				slog.String("path", truncate(r.URL.Path, 200)))
			return ""
		}
		if blocked != "" {
			m.logRefreshBlocked(r, blocked)
		}
	}
	return template.HTML(m.appendSnippetRefresh(nil, t, nonce, blocked == "")) // #nosec G203 -- built from the site's own templates; the token and nonce are checked to be inert
}

// headerPoliciesNonce returns the nonce that lets the widget for token t
// run under the Content-Security-Policy headers already in h (any key case,
// Report-Only aside): want (WithNonce's) if they allow it, else the one
// they name; want itself when h has no policy. blocked says which policy
// would block the refresh script's fetch ("" if none does: see
// refreshBlocked). ok is false if no nonce lets the widget run, or if h
// holds more than maxPolicies policies.
func (m *Middleware) headerPoliciesNonce(h http.Header, r *http.Request, t signed, want string) (nonce, blocked string, ok bool) {
	var ps []cspPolicy
	for _, v := range cspHeaders(h) {
		if ps, ok = parseCSP(ps, v); !ok {
			return "", "", false // more than maxPolicies
		}
	}
	if len(ps) == 0 {
		return want, "", true
	}
	if nonce, ok = chooseNonce(ps, m.scripts.of(t), want, requestOrigin(r)); !ok {
		return "", "", false
	}
	return nonce, m.refreshBlocked(ps, len(ps), r, t), true
}

// TokenFor returns the signed token for v and its expiry, from the cache while
// at least half of its TTL remains. Use it where the widget gets its token
// some other way than the injected snippet.
func (m *Middleware) TokenFor(v *Visitor) (string, time.Time, error) {
	if v == nil || v.Name == "" {
		return "", time.Time{}, errors.New("chatwidget: a token needs a visitor with a name")
	}
	t, err := m.checkedToken(context.Background(), v)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.token, time.Unix(t.exp, 0), nil
}

// checkedToken returns v's token, which the signer checked to be inert in
// HTML (a compact JWS) when it signed it.
func (m *Middleware) checkedToken(ctx context.Context, v *Visitor) (signed, error) {
	return m.signer.tokenFor(ctx, v)
}

// visitorToken resolves the visitor of r and signs their token; the zero
// signed means anonymous.
func (m *Middleware) visitorToken(r *http.Request) signed {
	v := m.resolve(r)
	if v == nil {
		return signed{}
	}
	t, err := m.checkedToken(r.Context(), v)
	if errors.Is(err, errTokenTooLarge) {
		return signed{} // logged as such
	}
	if err != nil {
		m.logs.log(r.Context(), logSignFailed, slog.LevelError, "chatwidget: cannot sign the visitor's token; serving the anonymous widget",
			slog.String("path", truncate(r.URL.Path, 200)), errorAttr(err))
		return signed{}
	}
	return t
}

// configuredNonce returns the nonce WithNonce gives for r, or "" if none
// (or one that is not base64, which is logged).
func (m *Middleware) configuredNonce(r *http.Request) string {
	if m.nonce == nil {
		return ""
	}
	nonce := m.nonce(r)
	if !validNonce(nonce) {
		m.logs.log(r.Context(), logBadNonce, slog.LevelWarn, "chatwidget: CSP nonce is not base64; leaving it out", slog.String("path", truncate(r.URL.Path, 200)))
		return ""
	}
	return nonce
}

// appendSnippet appends the widget's HTML for token t (zero: anonymous).
func (m *Middleware) appendSnippet(dst []byte, t signed, nonce string) []byte {
	return m.appendSnippetRefresh(dst, t, nonce, true)
}

// appendSnippetRefresh is appendSnippet, with the refresh script (if
// WithRefresh gave one) only if refresh is set.
func (m *Middleware) appendSnippetRefresh(dst []byte, t signed, nonce string, refresh bool) []byte {
	dst = m.embed.appendTo(dst, t, nonce)
	if t.token == "" {
		return m.anonymousTpl.appendTo(dst, t, nonce)
	}
	dst = m.customerData.appendTo(dst, t, nonce)
	if !refresh {
		return dst
	}
	return m.refresh.appendTo(dst, t, nonce)
}

// SnippetFor returns the widget's HTML for v (nil: anonymous) with no CSP
// nonce, for pages made outside a request (static pages, e-mails, the
// command line). See [Middleware.Snippet].
func (m *Middleware) SnippetFor(v *Visitor) (template.HTML, error) {
	var t signed
	if v != nil && v.Name != "" {
		var err error
		if t, err = m.checkedToken(context.Background(), v); err != nil {
			return "", err
		}
	} else if !m.anonymous {
		return "", nil
	}
	return template.HTML(m.appendSnippet(nil, t, "")), nil // #nosec G203 -- the site's templates, an inert token
}

// loadedAsDocument reports whether r loads a page as a whole document, the
// only kind that gets the widget. A fetch for a fragment that a script swaps
// into the page (htmx, Turbo Frames) or a page loaded into an iframe would
// start a second widget inside the first. A <link rel=prefetch> has the
// destination "empty" too, but the browser keeps what it gets for the
// navigation that follows: without the widget, that page would lack it.
func loadedAsDocument(r *http.Request) bool {
	h := r.Header
	switch header(h, "Sec-Fetch-Dest") {
	case "document":
		return true // htmx and Turbo fetch their fragments: their destination is "empty"
	case "empty":
		purpose := header(h, "Sec-Purpose")
		if purpose == "" {
			purpose = header(h, "Purpose") // what Chromium sent before Sec-Purpose
		}
		if !strings.HasPrefix(purpose, "prefetch") {
			return false
		}
	case "":
	default:
		return false
	}
	return header(h, "Hx-Request") == "" && header(h, "Turbo-Frame") == ""
}

// resolve asks the resolver who the visitor of r is. A failure is logged and
// makes the visitor anonymous; a panic with [http.ErrAbortHandler] goes on.
// A session that the visitor's cookie cannot be decoded into (garbage, or a
// cookie from before a key rotation) is logged at debug level, since any
// visitor can send one.
func (m *Middleware) resolve(r *http.Request) (v *Visitor) {
	path := slog.String("path", truncate(r.URL.Path, 200))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler { //nolint:errorlint // compared as net/http does
				panic(p)
			}
			m.logs.log(r.Context(), logResolverPanicked, slog.LevelError, "chatwidget: resolver panicked; serving the page as anonymous", path, slog.String("panic", truncate(fmt.Sprint(p), maxLogValue)))
			v = nil
		}
	}()
	v, err := m.resolver.Resolve(r)
	var undecodable *undecodableSessionError
	switch {
	case errors.As(err, &undecodable):
		m.logs.log(r.Context(), logUndecodableSession, slog.LevelDebug, "chatwidget: session cookie cannot be decoded; serving the page as anonymous", path, errorAttr(err))
		return nil
	case err != nil:
		m.logs.log(r.Context(), logResolverFailed, slog.LevelError, "chatwidget: resolver failed; serving the page as anonymous", path, errorAttr(err))
		return nil
	}
	if v != nil && v.Name == "" {
		return nil
	}
	return v
}
