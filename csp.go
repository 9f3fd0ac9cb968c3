package chatwidget

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/chatwidget/chatwidget/internal/rewrite"
	"golang.org/x/net/html"
)

// The page's own Content-Security-Policy. When WithNonce gives no nonce, the
// inserted scripts take one from the policies the response carries: the
// Content-Security-Policy headers the handler set (each value, and each
// comma-separated policy in it) and the <meta http-equiv> policies of the
// document's head, which the injector reports at the insertion point. Every
// policy applies, so the scripts must satisfy each: a policy that governs
// <script> elements (script-src-elem, else script-src, else default-src)
// lets them run if it names their nonce, or, without one, if it allows
// inline scripts ('unsafe-inline' with no nonce, hash or 'strict-dynamic')
// and the embed's URL. A page whose policies no nonce satisfies gets no
// widget, and a warning: inserted scripts that the page's CSP blocks would
// only fill its console with violations.

// cspPolicy is what a policy says about <script> elements and about
// fetch(): the source lists of the directives that govern them, if any.
type cspPolicy struct {
	governs bool     // a directive governs <script> elements
	sources []string // its source expressions, as written
	// fetches is set if a directive governs fetch() (connect-src, else
	// default-src), and connect holds its source expressions.
	fetches bool
	connect []string
}

// cspHeader is the header name of an enforced policy.
const cspHeader = "Content-Security-Policy"

// maxPolicies bounds the policies of a page (its headers' and its head's
// <meta> tags', each comma-separated one counting) that the writer checks
// the snippet against: every nonce they name is tried against every
// policy. A page with more gets no widget.
const maxPolicies = 64

// parseCSP appends to ps the policies of one serialized policy list (a
// header value, or a <meta>'s content): each comma-separated policy. ok is
// false if that would make more than maxPolicies; ps then holds
// maxPolicies of them.
func parseCSP(ps []cspPolicy, list string) (_ []cspPolicy, ok bool) {
	for p := range strings.SplitSeq(list, ",") {
		if len(ps) == maxPolicies {
			return ps, false
		}
		ps = append(ps, parsePolicy(p))
	}
	return ps, true
}

// tooManyPolicies is the reason of a page refused for maxPolicies.
var tooManyPolicies = "more than " + strconv.Itoa(maxPolicies) + " Content-Security-Policy policies in its headers and head"

// parsePolicy parses one serialized policy as CSP3 does: directives split
// at ";", names case-insensitive, the first of a name counting.
func parsePolicy(p string) cspPolicy {
	var elem, script, def, connect []string
	var hasElem, hasScript, hasDef, hasConnect bool
	for d := range strings.SplitSeq(p, ";") {
		fields := strings.FieldsFunc(d, isCSPSpace)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToLower(fields[0]) {
		case "script-src-elem":
			if !hasElem {
				elem, hasElem = fields[1:], true
			}
		case "script-src":
			if !hasScript {
				script, hasScript = fields[1:], true
			}
		case "default-src":
			if !hasDef {
				def, hasDef = fields[1:], true
			}
		case "connect-src":
			if !hasConnect {
				connect, hasConnect = fields[1:], true
			}
		}
	}
	var c cspPolicy
	switch {
	case hasElem:
		c.governs, c.sources = true, elem
	case hasScript:
		c.governs, c.sources = true, script
	case hasDef:
		c.governs, c.sources = true, def
	}
	switch {
	case hasConnect:
		c.fetches, c.connect = true, connect
	case hasDef:
		c.fetches, c.connect = true, def
	}
	return c
}

// isCSPSpace reports whether r is ASCII whitespace, which separates a
// directive's name and values.
func isCSPSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

// nonces appends the valid nonces p names to dst.
func (p cspPolicy) nonces(dst []string) []string {
	for _, s := range p.sources {
		if n, ok := nonceSource(s); ok {
			dst = append(dst, n)
		}
	}
	return dst
}

// nonceSource returns the nonce of a 'nonce-…' source expression.
func nonceSource(s string) (string, bool) {
	if len(s) < len("'nonce-'")+1 || s[len(s)-1] != '\'' || !strings.EqualFold(s[:len("'nonce-")], "'nonce-") {
		return "", false
	}
	n := s[len("'nonce-") : len(s)-1]
	return n, validNonce(n) && n != ""
}

// snippetScripts is what CSP looks at in a snippet: whether it has inline
// scripts, and the URLs of those it loads.
type snippetScripts struct {
	inline bool
	srcs   []*url.URL
}

// scriptsOf returns the scripts of snippet, some HTML of the templates.
func scriptsOf(snippet []byte) snippetScripts {
	var s snippetScripts
	z := html.NewTokenizer(strings.NewReader(string(snippet)))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return s
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			if string(name) != "script" {
				continue
			}
			src := ""
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				if string(k) == "src" {
					src = string(v)
					break
				}
			}
			if src == "" {
				s.inline = true
			} else if u, err := url.Parse(src); err == nil {
				s.srcs = append(s.srcs, u) // New checked that it is absolute
			}
		}
	}
}

// allows reports whether p lets scripts with nonce ("" for none) run,
// on a page of origin self.
func (p cspPolicy) allows(scripts snippetScripts, nonce string, self *url.URL) bool {
	if !p.governs {
		return true
	}
	var hasNonce, hasHash, strictDynamic, unsafeInline, none bool
	for _, s := range p.sources {
		if n, ok := nonceSource(s); ok {
			if nonce != "" && n == nonce {
				return true // a nonce lets inline and loaded scripts alike run
			}
			hasNonce = true
			continue
		}
		switch ls := strings.ToLower(s); {
		case strings.HasPrefix(ls, "'sha256-"), strings.HasPrefix(ls, "'sha384-"), strings.HasPrefix(ls, "'sha512-"):
			hasHash = true
		case ls == "'strict-dynamic'":
			strictDynamic = true
		case ls == "'unsafe-inline'":
			unsafeInline = true
		case ls == "'none'":
			none = true
		}
	}
	if none && len(p.sources) == 1 {
		return false
	}
	if scripts.inline && (!unsafeInline || hasNonce || hasHash || strictDynamic) {
		return false // the snippet's inline scripts change with each token: no hash can allow them
	}
	for _, u := range scripts.srcs {
		if strictDynamic || !p.allowsURL(u, self) {
			return false
		}
	}
	return true
}

// allowsFetch reports whether p lets a page of origin self fetch() u: no
// directive governs fetch(), or the one that does (connect-src, else
// default-src) matches u with 'self', *, a scheme or a host source.
func (p cspPolicy) allowsFetch(u, self *url.URL) bool {
	if !p.fetches {
		return true
	}
	for _, s := range p.connect {
		if matchSource(s, u, self) {
			return true
		}
	}
	return false
}

// allowsURL reports whether a host-source, scheme-source, 'self' or * of
// p matches u, as CSP3's "does url match source list" does for the
// schemes a template may use (https, and http on loopback).
func (p cspPolicy) allowsURL(u, self *url.URL) bool {
	for _, s := range p.sources {
		if matchSource(s, u, self) {
			return true
		}
	}
	return false
}

// matchSource reports whether the source expression s matches u.
func matchSource(s string, u, self *url.URL) bool {
	ls := strings.ToLower(s)
	switch {
	case ls == "*":
		return u.Scheme == "https" || u.Scheme == "http"
	case ls == "'self'":
		return self != nil && schemeMatches(self.Scheme, u.Scheme) && strings.EqualFold(u.Host, self.Host)
	case strings.HasPrefix(ls, "'"):
		return false // keywords, nonces and hashes
	case strings.HasSuffix(ls, ":") && !strings.Contains(ls, "/"):
		return schemeMatches(strings.TrimSuffix(ls, ":"), u.Scheme)
	}
	scheme, rest, ok := strings.Cut(ls, "://")
	if !ok {
		scheme, rest = "", ls
		if self != nil {
			scheme = self.Scheme
		}
	}
	if scheme != "" && !schemeMatches(scheme, u.Scheme) {
		return false
	}
	hostPort, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hostPort, path = rest[:i], rest[i:]
	}
	host, port, hasPort := strings.Cut(hostPort, ":")
	uh := strings.ToLower(u.Hostname())
	switch {
	case host == "*":
	case strings.HasPrefix(host, "*."):
		if !strings.HasSuffix(uh, host[1:]) {
			return false
		}
	case host != uh:
		return false
	}
	if hasPort && port != "*" && port != portOf(u) {
		return false
	}
	if !hasPort && u.Port() != "" && u.Port() != defaultPort(u.Scheme) {
		return false
	}
	switch {
	case path == "":
		return true
	case strings.HasSuffix(path, "/"):
		return strings.HasPrefix(u.EscapedPath(), path)
	}
	return u.EscapedPath() == path
}

// schemeMatches reports whether a source's scheme allows a URL's, http
// allowing https as CSP3 says.
func schemeMatches(source, scheme string) bool {
	return source == scheme || source == "http" && scheme == "https"
}

// portOf returns u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPort(u.Scheme)
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// requestOrigin returns the origin of r's page, as far as the server can
// tell: https when it came over TLS, the Host it asked for.
func requestOrigin(r *http.Request) *url.URL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host}
}

// chooseNonce returns the nonce that lets scripts run under every policy
// of ps: want if given (WithNonce's), else one that the policies name, or
// none. ok is false if none does.
func chooseNonce(ps []cspPolicy, scripts snippetScripts, want string, self *url.URL) (nonce string, ok bool) {
	try := func(n string) bool {
		for _, p := range ps {
			if !p.allows(scripts, n, self) {
				return false
			}
		}
		return true
	}
	if want != "" {
		return want, try(want)
	}
	var buf [4]string
	for _, n := range cspNonces(buf[:0], ps) {
		if try(n) {
			return n, true
		}
	}
	return "", try("")
}

// cspNonces appends the nonces of ps to dst, each once.
func cspNonces(dst []string, ps []cspPolicy) []string {
	for _, p := range ps {
		for _, n := range p.nonces(nil) {
			if !contains(dst, n) {
				dst = append(dst, n)
			}
		}
	}
	return dst
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// headerNonce reads the page's CSP headers (not Report-Only) and returns
// the nonce they leave for the embed code; ok is false, and the page
// refused, when no nonce lets it run under them. A <meta> policy of the
// head can only add to them (see Place).
func (cw *responseWriter) headerNonce() (nonce string, ok bool) {
	cw.policies = cw.policies[:0]
	for _, v := range cspHeaders(cw.w.Header()) {
		if cw.policies, ok = parseCSP(cw.policies, v); !ok {
			cw.refuse(refusedCSP, tooManyPolicies)
			return "", false
		}
	}
	cw.headerPolicies = len(cw.policies)
	cw.want = cw.m.configuredNonce(cw.r)
	if len(cw.policies) == 0 {
		return cw.want, true
	}
	return cw.policyNonce(cw.m.scripts.embed, "a Content-Security-Policy header")
}

// cspHeaders returns the lines of the enforced policies in h as a browser
// reads them: under the canonical key, then under any other case of it
// (h["content-security-policy"], which net/http sends as it is), those
// keys in sorted order so that the nonce chosen does not change from one
// response to the next. A Content-Security-Policy-Report-Only key, in any
// case, is not among them.
func cspHeaders(h http.Header) []string {
	vs := h[cspHeader]
	var other []string
	for k := range h {
		if k != cspHeader && strings.EqualFold(k, cspHeader) {
			other = append(other, k)
		}
	}
	if other == nil {
		return vs
	}
	slices.Sort(other)
	vs = slices.Clip(vs)
	for _, k := range other {
		vs = append(vs, h[k]...)
	}
	return vs
}

// policyNonce returns the nonce that lets scripts run under cw.policies;
// ok is false, and the page refused for the policies of where, if none
// does.
func (cw *responseWriter) policyNonce(scripts snippetScripts, where string) (string, bool) {
	nonce, ok := chooseNonce(cw.policies, scripts, cw.want, requestOrigin(cw.r))
	if !ok {
		cw.refuse(refusedCSP, where)
	}
	return nonce, ok
}

// Place returns the snippet to insert at the insertion point, now that the
// content of the document head's CSP <meta> tags (metas) is known: the
// snippet decide made, with the nonce that every policy leaves, and without
// the refresh script if a policy would block its fetch (see fetchBlocked);
// nil if no nonce lets the scripts run, if a <meta> of the head was too
// long to read or there were more than rewrite.MaxMetaCSP policy <meta>
// tags (lost), or more than maxPolicies policies: the page is refused.
func (cw *responseWriter) Place(metas []string, lost bool) []byte {
	if cw.snippet == nil {
		return nil
	}
	if lost {
		reason := "a <meta> in the head over 8 KiB, which may be a Content-Security-Policy"
		if len(metas) == rewrite.MaxMetaCSP {
			reason = "more than " + strconv.Itoa(rewrite.MaxMetaCSP) + " <meta http-equiv=Content-Security-Policy> in the head"
		}
		cw.refuse(refusedCSP, reason)
		return nil
	}
	nonce := cw.nonce
	if len(metas) > 0 {
		if !cw.addMetaPolicies(metas) {
			return nil
		}
		var ok bool
		if nonce, ok = cw.policyNonce(cw.m.scripts.of(cw.token), "a <meta http-equiv=Content-Security-Policy> in the head"); !ok {
			return nil
		}
	}
	blocked := cw.m.refreshBlocked(cw.policies, cw.headerPolicies, cw.r, cw.token)
	if nonce != cw.nonce || blocked != "" {
		cw.snippet, cw.nonce = cw.m.appendSnippetRefresh(cw.snippet[:0], cw.token, nonce, blocked == ""), nonce
	}
	if blocked != "" {
		cw.m.logRefreshBlocked(cw.r, blocked)
	}
	return cw.snippet
}

// addMetaPolicies adds the policies of the head's <meta> tags to
// cw.policies; false, and the page refused, if that makes more than
// maxPolicies.
func (cw *responseWriter) addMetaPolicies(metas []string) bool {
	for _, m := range metas {
		var ok bool
		cw.policies, ok = parseCSP(cw.policies, m)
		if ok && strings.Contains(m, ",") {
			// CSP3 reads a <meta>'s content as one policy, and browsers
			// have split it at commas as a header is: both must allow.
			if ok = len(cw.policies) < maxPolicies; ok {
				cw.policies = append(cw.policies, parsePolicy(m))
			}
		}
		if !ok {
			cw.refuse(refusedCSP, tooManyPolicies)
			return false
		}
	}
	return true
}

// refreshBlocked says which of the policies ps of r's page (the first
// nHeader from its headers, the rest from its head's <meta> tags) would
// block the refresh script's fetch() of the token endpoint, "" if none
// does or the snippet for token t has no refresh script (an anonymous
// visitor's, or no WithRefresh). The script fetches the endpoint on the
// page's own origin. A request that came without TLS may have come through
// a proxy that terminates it, so the origin is tried in both schemes: a
// policy that allows either (say connect-src https://shop.example) lets
// the script keep its fetch.
func (m *Middleware) refreshBlocked(ps []cspPolicy, nHeader int, r *http.Request, t signed) string {
	if m.refreshURL == nil || t.token == "" || len(ps) == 0 {
		return ""
	}
	self := requestOrigin(r)
	blocked := m.blockingPolicy(ps, nHeader, self)
	if blocked != "" && self.Scheme == "http" {
		https := *self
		https.Scheme = "https"
		if m.blockingPolicy(ps, nHeader, &https) == "" {
			return ""
		}
	}
	return blocked
}

// blockingPolicy says where the first of ps that does not let a page of
// origin self fetch the refresh endpoint is: a header (the first nHeader)
// or a <meta>; "" if every policy lets it.
func (m *Middleware) blockingPolicy(ps []cspPolicy, nHeader int, self *url.URL) string {
	u := *m.refreshURL
	u.Scheme, u.Host = self.Scheme, self.Host
	for i, p := range ps {
		if !p.allowsFetch(&u, self) {
			if i < nHeader {
				return "connect-src (or default-src) of a Content-Security-Policy header"
			}
			return "connect-src (or default-src) of a <meta http-equiv=Content-Security-Policy> in the head"
		}
	}
	return ""
}

// logRefreshBlocked logs that r's page gets the widget without the refresh
// script, which the policy blocked names would keep from its fetch.
func (m *Middleware) logRefreshBlocked(r *http.Request, blocked string) {
	m.logs.log(r.Context(), logRefreshBlocked, slog.LevelWarn, "chatwidget: the page's Content-Security-Policy blocks the refresh script's fetch() of the token endpoint; the widget goes in without it, and the tab's token is not renewed before its exp: let connect-src (or default-src) allow the page's own origin, e.g. connect-src 'self'",
		slog.String("reason", blocked), slog.String("path", truncate(r.URL.Path, 200)))
}

// templateScripts is what CSP looks at in the snippets of a Middleware:
// the embed code's scripts, and the whole snippet's for a logged-in and an
// anonymous visitor.
type templateScripts struct {
	embed, loggedIn, anonymous snippetScripts
}

// of returns the scripts of the snippet for token t (zero: anonymous).
func (s *templateScripts) of(t signed) snippetScripts {
	if t.token == "" {
		return s.anonymous
	}
	return s.loggedIn
}

// findScripts finds the scripts of m's snippets.
func (m *Middleware) findScripts() {
	m.scripts = templateScripts{
		embed:     scriptsOf(m.embed.appendTo(nil, signed{}, "")),
		loggedIn:  scriptsOf(m.appendSnippet(nil, signed{token: "e30.e30.e30"}, "")),
		anonymous: scriptsOf(m.appendSnippet(nil, signed{}, "")),
	}
}
