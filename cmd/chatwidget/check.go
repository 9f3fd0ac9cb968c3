package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/internal/jwk"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
)

// How check judges a token's expiry.
const (
	// tooClose is how little life left makes a token worth a warning: a
	// visitor who opens the chat later is not known.
	tooClose = time.Minute
	// clockSkew is the difference between clocks check tolerates.
	clockSkew = 30 * time.Second
)

func checkCommand() *command {
	return &command{
		name:         "check",
		synopsis:     "URL [-cookie name=value]... [-pub public.pem | -jwks URL] [-leftalone URL]... [-timeout 30s]",
		short:        "check a live page's widget, token and headers, as a browser sees them",
		interspersed: true,
		doc: "Check fetches URL as a browser's navigation does (User-Agent, Accept,\n" +
			"Sec-Fetch-Dest: document, Sec-Fetch-Mode: navigate, Sec-Fetch-Site: none,\n" +
			"Sec-Fetch-User, Upgrade-Insecure-Requests), with the visitor's cookies, and prints\n" +
			"one line per check, \"ok\", \"warn\" or \"FAIL\", each with what to do:\n" +
			"\n" +
			"  fetch      the status and Content-Type of the page;\n" +
			"  widget     exactly one <script data-chatwidget>, in <body>, where a browser runs it\n" +
			"             (parsed as browsers parse, with scripting on and off: not in <template>,\n" +
			"             <noscript>, <svg> or <math>, nor as text);\n" +
			"  token      the customer-data token: the JWT in the scripts after the widget's;\n" +
			"  signature  the token's signature (RS256, PS256 or ES256) by -pub, or by the key of\n" +
			"             the -jwks set with the token's kid, announced for its alg;\n" +
			"  claims     the claims, with a non-empty name and isLoggedIn true;\n" +
			"  expiry     exp and iat: not expired, not too close to exp, not issued in the future;\n" +
			"  cache      Cache-Control private (no public, no s-maxage, no CDN cache header);\n" +
			"  vary       Vary with Cookie;\n" +
			"  csp        the nonce of each of the widget's scripts allowed by the page's\n" +
			"             Content-Security-Policy (header or <meta>; script-src-elem, script-src,\n" +
			"             default-src);\n" +
			"  leftalone  each -leftalone URL (relative to URL), fetched as the page would fetch it\n" +
			"             (an image, a script, a style sheet or a font by its extension, else\n" +
			"             fetch(): Sec-Fetch-Dest empty), carries no widget and no token.\n" +
			"\n" +
			"cache and vary are checked on a page with a token only. Flags may come before or\n" +
			"after URL. Exit status: 0 when no check failed (warnings allowed), 1 when one did,\n" +
			"2 on a usage error or when the page could not be fetched.",
		minArgs: 1,
		maxArgs: 1,
		setup: func(fs *flag.FlagSet) action {
			var cookies, leftAlone []string
			fs.Func("cookie", "a cookie to send, as `name=value`: the session cookie copied from the browser (repeatable)", func(s string) error {
				name, value, ok := strings.Cut(s, "=")
				if !ok || !validCookieName(name) {
					return errors.New("want name=value, with a cookie name of letters, digits and !#$%&'*+-.^_`|~")
				}
				if strings.ContainsAny(value, ";\r\n") || strings.ContainsFunc(value, isControl) {
					return errors.New("a cookie value holds no ';' and no control characters")
				}
				cookies = append(cookies, name+"="+value)
				return nil
			})
			pub := fs.String("pub", "", "public key `file` (PEM) that the token must verify with")
			jwksURL := fs.String("jwks", "", "`URL` of the JWKS whose key, by the token's kid, the token must verify with")
			fs.Func("leftalone", "`URL` of a JSON response or an asset that must carry no widget (repeatable)", func(s string) error {
				leftAlone = append(leftAlone, s)
				return nil
			})
			timeout := fs.Duration("timeout", 30*time.Second, "how long each request may take")
			return func(e *env, args []string) error {
				c := &checker{cookies: strings.Join(cookies, "; "), pubPath: *pub, timeout: *timeout}
				if err := c.parseArgs(args[0], *jwksURL, leftAlone); err != nil {
					return err
				}
				return c.run(e)
			}
		},
	}
}

// validCookieName reports whether s is an RFC 6265 cookie name (an HTTP token).
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// A level is how a check went.
type level int

const (
	levelOK level = iota
	levelWarn
	levelFail
)

func (l level) String() string {
	return [...]string{"ok", "warn", "FAIL"}[l]
}

// A finding is the outcome of one check: a line of the report.
type finding struct {
	level level
	check string
	msg   string
}

func ok(check, format string, args ...any) finding {
	return finding{levelOK, check, fmt.Sprintf(format, args...)}
}

func warn(check, format string, args ...any) finding {
	return finding{levelWarn, check, fmt.Sprintf(format, args...)}
}

func fail(check, format string, args ...any) finding {
	return finding{levelFail, check, fmt.Sprintf(format, args...)}
}

// A checker holds what check was given.
type checker struct {
	page      *url.URL
	cookies   string // the Cookie header
	pubPath   string
	jwksURL   *url.URL
	leftAlone []*url.URL
	timeout   time.Duration

	keys     []verifyKey // from -pub; from -jwks once fetched
	keysFrom string      // names them in the report
}

// parseArgs checks the URLs and reads the -pub key.
func (c *checker) parseArgs(page, jwksURL string, leftAlone []string) error {
	var err error
	if c.page, err = httpURL(page); err != nil {
		return usagef("URL %q: %v", page, err)
	}
	if c.timeout <= 0 {
		return usagef("-timeout %v is not positive", c.timeout)
	}
	for _, s := range leftAlone {
		ref, err := url.Parse(s)
		if err != nil {
			return usagef("-leftalone %q: %v", s, err)
		}
		u, err := httpURL(c.page.ResolveReference(ref).String())
		if err != nil {
			return usagef("-leftalone %q: %v", s, err)
		}
		c.leftAlone = append(c.leftAlone, u)
	}
	switch {
	case c.pubPath != "" && jwksURL != "":
		return usagef("give -pub or -jwks, not both")
	case jwksURL != "":
		if c.jwksURL, err = httpURL(jwksURL); err != nil {
			return usagef("-jwks %q: %v", jwksURL, err)
		}
		c.keysFrom = c.jwksURL.String()
	case c.pubPath != "":
		b, err := os.ReadFile(c.pubPath)
		if err != nil {
			return &codeError{exitUsage, err}
		}
		pub, err := chatwidget.ParsePublicKeyPEM(b)
		if err != nil {
			return &codeError{exitUsage, fmt.Errorf("%s: %s", c.pubPath, trimPrefix(err.Error()))}
		}
		c.keys, c.keysFrom = []verifyKey{{pub: pub}}, c.pubPath
	}
	return nil
}

// httpURL parses s as an absolute http or https URL.
func httpURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, errors.New("want an absolute http:// or https:// URL")
	}
	return u, nil
}

// run fetches the page, runs the checks and prints the report. A page that
// cannot be fetched is exit 2; a failed check is exit 1.
func (c *checker) run(e *env) error {
	f := &fetcher{client: &http.Client{Timeout: c.timeout}, cookies: c.cookies, page: c.page}
	ctx := context.Background()
	resp, err := f.fetch(ctx, c.page, destDocument)
	if err != nil {
		return &codeError{exitUsage, fmt.Errorf("fetch %s: %w", c.page, err)}
	}
	fs, err := c.checkPage(ctx, f, resp)
	if err != nil {
		return err
	}
	failed := 0
	for _, x := range fs {
		if x.level == levelFail {
			failed++
		}
		if _, err := fmt.Fprintf(e.stdout, "%-4s %s: %s\n", x.level, x.check, x.msg); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(fs))
	}
	return nil
}

// checkPage runs the checks of the fetched page.
func (c *checker) checkPage(ctx context.Context, f *fetcher, resp *fetched) ([]finding, error) {
	fetchF, isHTML := checkFetch(c.page, resp)
	fs := []finding{fetchF}
	if !isHTML {
		return fs, nil
	}
	p, err := parsePage(resp.body)
	if err != nil {
		return nil, &codeError{exitUsage, fmt.Errorf("parse %s: %w", c.page, err)}
	}
	widgetF, w := checkWidget(p)
	fs = append(fs, widgetF)
	if w == nil {
		return append(fs, c.checkLeftAlone(ctx, f, "")...), nil
	}
	scripts := snippetScripts(w)
	toks := findTokens(scripts[1:])
	tok := ""
	if len(toks) > 0 {
		tok = toks[0]
	}
	fs = append(fs, c.checkToken(toks))
	if tok != "" {
		fs = append(fs, c.checkTokenContents(ctx, f, tok, resp.Header)...)
	}
	fs = append(fs, checkCSP(resp.Header, p.on, scripts))
	return append(fs, c.checkLeftAlone(ctx, f, tok)...), nil
}

// checkFetch reports the page's status and type, and whether it is HTML.
func checkFetch(page *url.URL, resp *fetched) (finding, bool) {
	where := ""
	if final := resp.Request.URL; final.String() != page.String() {
		where = ", redirected to " + final.String()
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case resp.StatusCode >= 400:
		return fail("fetch", "%s%s: is the cookie still valid (a login page or an error instead)?", resp.Status, where), mt == "text/html"
	case mt == "application/xhtml+xml":
		return fail("fetch", "%s%s, Content-Type %s: the middleware leaves XHTML pages alone (a browser's XML parser would stop at the widget); serve the page as text/html", resp.Status, where, ct), false
	case mt != "text/html":
		return fail("fetch", "%s%s, Content-Type %q, not an HTML page: the middleware inserts the widget only into text/html", resp.Status, where, ct), false
	}
	return ok("fetch", "%s%s, %s, %d bytes", resp.Status, where, ct, len(resp.body)), true
}

// checkWidget reports whether the page holds the widget exactly once, where a
// browser runs it, in both parses, and returns that script (or the first
// widget script found, for the checks that follow) in the scripting-on tree.
func checkWidget(p *parsedPage) (finding, *html.Node) {
	on, off := findWidgets(p.on), findWidgets(p.off)
	if len(on) == 0 && len(off) == 0 {
		if strings.Contains(strings.ToLower(string(p.raw)), markerAttr) {
			return fail("widget", "the page holds %s only as text (in a comment, <textarea>, <title>, <noscript> or the like), which a browser does not run: place the snippet before </body>, outside such elements", markerAttr), nil
		}
		return fail("widget", "no <script %s> in the page: is the handler wrapped by the middleware, and not skipped (WithSkip, Disable)? Does the page end in markup the middleware cannot follow (it then leaves the page alone, at debug level in its log and in Stats().PagesRefused)?", markerAttr), nil
	}
	var first *html.Node // where the checks that follow look: the first good one, else the first
	if i := slices.IndexFunc(on, func(w widgetScript) bool { return w.problem == "" }); i >= 0 {
		first = on[i].n
	} else if len(on) > 0 {
		first = on[0].n
	}
	var bad []string
	for _, w := range on {
		if w.problem != "" {
			bad = append(bad, fmt.Sprintf("at %s %s", w.where, w.problem))
		}
	}
	for _, w := range off {
		if w.problem != "" && !slices.ContainsFunc(on, func(o widgetScript) bool { return o.where == w.where }) {
			bad = append(bad, fmt.Sprintf("with scripting off, at %s %s", w.where, w.problem))
		}
	}
	switch {
	case len(on) > 1:
		var at []string
		for _, w := range on {
			at = append(at, w.where)
		}
		msg := fmt.Sprintf("found %d times (%s): the widget must start once; a page that places mw.Snippet itself must do so before </body>, where the middleware sees it and adds nothing", len(on), strings.Join(at, "; "))
		if len(bad) > 0 {
			msg += "; " + strings.Join(bad, "; ")
		}
		return fail("widget", "%s", msg), first
	case len(bad) > 0:
		return fail("widget", "%s", strings.Join(bad, "; ")), first
	case len(on) == 0:
		return fail("widget", "found only with scripting off, at %s: with scripting on a browser reads the page differently and does not see it", off[0].where), nil
	case len(off) != 1 || off[0].where != on[0].where:
		return fail("widget", "found at %s, but a browser with scripting off reads the page differently (%d widget scripts): the markup before it is ambiguous", on[0].where, len(off)), first
	}
	return ok("widget", "found once, at %s, with scripting on and off", on[0].where), first
}

// checkToken reports whether the widget carries a customer-data token.
func (c *checker) checkToken(toks []string) finding {
	switch {
	case len(toks) == 0 && c.cookies != "":
		return fail("token", "no customer-data token after the widget: the middleware saw an anonymous visitor with these cookies; is the session cookie's name and value right, and still valid? Does the resolver find the user (its errors are in the middleware's log)?")
	case len(toks) == 0:
		return warn("token", "no customer-data token after the widget: the page is the anonymous one; pass the session cookie with -cookie name=value to check a logged-in page")
	case len(toks) > 1:
		return warn("token", "%d tokens after the widget; checking the first (%s)", len(toks), tokenSummary(toks[0]))
	}
	return ok("token", "found (%s)", tokenSummary(toks[0]))
}

// tokenSummary names a token's alg and kid for the report.
func tokenSummary(tok string) string {
	t, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		return "undecodable"
	}
	alg, _ := t.Header["alg"].(string)
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return alg + ", no kid"
	}
	return fmt.Sprintf("%s, kid %q", alg, kid)
}

// checkTokenContents checks the token's signature, claims and expiry, and
// the headers a page with a token needs.
func (c *checker) checkTokenContents(ctx context.Context, f *fetcher, tok string, h http.Header) []finding {
	sigF, claims := c.checkSignature(ctx, f, tok)
	fs := []finding{sigF}
	if claims == nil { // undecodable: the signature check said so
		return fs
	}
	b, _ := json.Marshal(claims)
	if err := checkIdentity(claims); err != nil {
		fs = append(fs, fail("claims", "%s: %s; the resolver must return a Visitor with a Name", err, b))
	} else {
		fs = append(fs, ok("claims", "%s", b))
	}
	expF, exp := checkExpiry(claims, time.Now())
	return append(fs, expF, checkCacheControl(h, exp), checkVary(h))
}

// checkSignature verifies tok with -pub or -jwks and returns the claims,
// unverified when there is no key to verify them with or the signature
// fails, nil when the token cannot be decoded at all.
func (c *checker) checkSignature(ctx context.Context, f *fetcher, tok string) (finding, jwt.MapClaims) {
	unverified := jwt.MapClaims{}
	if _, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(tok, unverified); err != nil {
		return fail("signature", "the token does not decode: %v", err), nil
	}
	if c.pubPath == "" && c.jwksURL == nil {
		return warn("signature", "not checked: pass -pub public.pem (the key the vendor has) or -jwks URL"), unverified
	}
	if c.jwksURL != nil && c.keys == nil {
		keys, err := fetchKeys(ctx, f, c.jwksURL)
		if err != nil {
			return fail("signature", "cannot check against the JWKS: %v", err), unverified
		}
		c.keys = keys
	}
	t, claims, err := verifySignature(tok, c.keys)
	if err != nil {
		return fail("signature", "%s, by %s: the vendor refuses it; is the site's signing key the one whose public key the vendor has (or the JWKS publishes)?", trimPrefix(err.Error()), c.keysFrom), unverified
	}
	return ok("signature", "verified by %s%s", c.keysFrom, keyOf(t, c.keys)), claims
}

// keyOf names the key of a key set that verified t: " (key "kid")".
func keyOf(t *jwt.Token, keys []verifyKey) string {
	if kid, _ := t.Header["kid"].(string); kid != "" && len(keys) > 0 && keys[0].inSet {
		return fmt.Sprintf(" (key %q)", kid)
	}
	return ""
}

// fetchKeys fetches the JWKS at u and returns its keys.
func fetchKeys(ctx context.Context, f *fetcher, u *url.URL) ([]verifyKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answers %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s holds more than %d bytes", u, maxInput)
	}
	set, _, err := jwk.ParseSet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	keys := make([]verifyKey, len(set))
	for i, k := range set {
		keys[i] = verifyKey{pub: k.Pub, inSet: true, kid: k.Kid, alg: k.Alg}
	}
	return keys, nil
}

// checkExpiry reports whether the token's exp and iat are sound at now, and
// returns exp (the zero time if there is none).
func checkExpiry(claims jwt.MapClaims, now time.Time) (finding, time.Time) {
	expT, err := claims.GetExpirationTime()
	if err != nil || expT == nil {
		return fail("expiry", "no valid exp claim: the vendor refuses a token without one"), time.Time{}
	}
	exp := expT.Time
	iatT, err := claims.GetIssuedAt()
	if err != nil || iatT == nil {
		return fail("expiry", "no valid iat claim: the vendor refuses a token without one"), exp
	}
	iat := iatT.Time
	left, life := exp.Sub(now), exp.Sub(iat)
	stamp := exp.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		return fail("expiry", "expired %v ago (exp %s): the page came from a cache (see the cache check), or the server's clock is behind", -left.Round(time.Second), stamp), exp
	case iat.After(now.Add(clockSkew)):
		return fail("expiry", "issued %v in the future (iat %s): the server's clock is ahead, and the vendor refuses the token until then", iat.Sub(now).Round(time.Second), iat.UTC().Format(time.RFC3339)), exp
	case left < tooClose:
		return warn("expiry", "expires in %v (exp %s, lifetime %v): a visitor who opens the chat later is not known; use a longer WithTTL, or WithRefresh", left.Round(time.Second), stamp, life), exp
	case left < life/2-clockSkew:
		return warn("expiry", "%v of its %v left (exp %s): the middleware hands out tokens with at least half their lifetime left, so the page came from a cache or the clocks differ", left.Round(time.Second), life, stamp), exp
	}
	return ok("expiry", "expires in %v (exp %s, lifetime %v)", left.Round(time.Second), stamp, life), exp
}

// checkLeftAlone fetches each -leftalone URL as the page would and reports
// whether it carries no widget and no token (tok, when the page has one).
func (c *checker) checkLeftAlone(ctx context.Context, f *fetcher, tok string) []finding {
	var fs []finding
	for _, u := range c.leftAlone {
		d := destinationOf(u)
		resp, err := f.fetch(ctx, u, d)
		if err != nil {
			fs = append(fs, fail("leftalone", "%s: %v", u, err))
			continue
		}
		ct := resp.Header.Get("Content-Type")
		desc := fmt.Sprintf("%s (Sec-Fetch-Dest: %s; %s, %s)", u, d.dest, resp.Status, ct)
		switch {
		case strings.Contains(strings.ToLower(string(resp.body)), markerAttr):
			fs = append(fs, fail("leftalone", "%s carries the widget: the middleware inserts it only into HTML navigations (Sec-Fetch-Dest: document), so the handler writes it itself (mw.Snippet in a template it renders?), or another layer does", desc))
		case tok != "" && strings.Contains(string(resp.body), tok):
			fs = append(fs, fail("leftalone", "%s carries the page's token: a response that is not the page must not hold the visitor's identity", desc))
		default:
			fs = append(fs, ok("leftalone", "%s carries no widget", desc))
		}
	}
	return fs
}
