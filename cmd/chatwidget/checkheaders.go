package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// headerList splits the comma-separated values of header name in h into
// trimmed, non-empty elements.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// cdnHeaders are the headers that a CDN or proxy obeys over Cache-Control
// (RFC 9213's CDN-Cache-Control and its kin, matched by suffix).
var cdnHeaders = []string{"Cdn-Cache-Control", "Surrogate-Control", "Edge-Control", "X-Accel-Expires"}

// checkCacheControl reports whether a page with a token that expires at exp
// stays out of shared caches, and out of the browser's past exp.
func checkCacheControl(h http.Header, exp time.Time) finding {
	const fix = "something outside the middleware sets it (a proxy, a CDN rule, or a middleware wrapped around chatwidget's); the middleware makes pages with a token private, so let its headers through"
	var private, shared []string
	maxAge := int64(-1)
	for _, d := range headerList(h, "Cache-Control") {
		name, val, _ := strings.Cut(d, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "private", "no-store":
			private = append(private, d)
		case "public", "s-maxage":
			shared = append(shared, d)
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(val, `" `), 10, 64); err == nil {
				maxAge = n
			}
		}
	}
	cc := strings.Join(h.Values("Cache-Control"), ", ")
	for k := range h {
		for _, c := range cdnHeaders {
			if len(k) >= len(c) && strings.EqualFold(k[len(k)-len(c):], c) {
				return fail("cache", "%s: %s tells a CDN to store the page, and hand this visitor's token to others; %s", k, h.Get(k), fix)
			}
		}
	}
	switch {
	case len(shared) > 0:
		return fail("cache", "Cache-Control: %s has %s: a shared cache (a CDN, a proxy) may store the page and hand this visitor's token to others; %s", cc, strings.Join(shared, " and "), fix)
	case len(private) == 0 && cc == "":
		return fail("cache", "no Cache-Control on a page with a token: a shared cache may store it and hand this visitor's token to others; %s", fix)
	case len(private) == 0:
		return fail("cache", "Cache-Control: %s is not private: a shared cache may store the page and hand this visitor's token to others; %s", cc, fix)
	}
	if left := int64(time.Until(exp).Seconds()); maxAge > left && left > 0 {
		return warn("cache", "Cache-Control: %s lets the browser reuse the page for %ds, past the token's exp in %ds, when the widget gets an expired token; the middleware clamps max-age to the token's life: is a header set after it?", cc, maxAge, left)
	}
	return ok("cache", "Cache-Control: %s", cc)
}

// checkVary reports whether a page with a token varies by Cookie.
func checkVary(h http.Header) finding {
	vary := headerList(h, "Vary")
	for _, f := range vary {
		if f == "*" || strings.EqualFold(f, "Cookie") {
			return ok("vary", "Vary: %s", strings.Join(vary, ", "))
		}
	}
	const why = "a cache (the browser's, or a shared one) may give this page, with this visitor's token, to a request with other cookies, after a logout or to another user"
	if len(vary) == 0 {
		return fail("vary", "no Vary on a page with a token: %s; something outside the middleware removes the Vary: Cookie it adds", why)
	}
	return fail("vary", "Vary: %s has no Cookie: %s; something outside the middleware replaces the Vary it adds (use Add, not Set, for Vary)", strings.Join(vary, ", "), why)
}

// A scriptPolicy is the source list that one Content-Security-Policy
// applies to <script> elements.
type scriptPolicy struct {
	from         string // "the Content-Security-Policy header", "a <meta> Content-Security-Policy"
	directive    string // script-src-elem, script-src or default-src
	nonces       []string
	hashes       []string // "sha256-…", as written
	unsafeInline bool
}

// scriptPolicies returns the script source lists of the page's policies:
// each Content-Security-Policy header (several policies in one header are
// separated by commas) and each <meta http-equiv> policy in <head>. A policy
// with no script-src-elem, script-src or default-src does not restrict
// scripts and is left out.
func scriptPolicies(h http.Header, doc *html.Node) []scriptPolicy {
	var ps []scriptPolicy
	for _, v := range h.Values("Content-Security-Policy") {
		for p := range strings.SplitSeq(v, ",") {
			if sp, ok := parseScriptPolicy(p, "the Content-Security-Policy header"); ok {
				ps = append(ps, sp)
			}
		}
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Meta && n.Namespace == "" &&
			strings.EqualFold(attr(n, "http-equiv"), "Content-Security-Policy") && inHead(n) {
			if sp, ok := parseScriptPolicy(attr(n, "content"), "a <meta> Content-Security-Policy"); ok {
				ps = append(ps, sp)
			}
		}
	}
	return ps
}

func inHead(n *html.Node) bool {
	for a := range n.Ancestors() {
		if a.DataAtom == atom.Head {
			return true
		}
	}
	return false
}

// parseScriptPolicy returns the source list that policy applies to script
// elements: that of script-src-elem, else script-src, else default-src (the
// first of each name counts, as in browsers).
func parseScriptPolicy(policy, from string) (scriptPolicy, bool) {
	dirs := make(map[string][]string)
	for d := range strings.SplitSeq(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, seen := dirs[name]; !seen {
			dirs[name] = f[1:]
		}
	}
	for _, name := range []string{"script-src-elem", "script-src", "default-src"} {
		srcs, ok := dirs[name]
		if !ok {
			continue
		}
		sp := scriptPolicy{from: from, directive: name}
		for _, s := range srcs {
			ls := strings.ToLower(s)
			switch {
			case strings.HasPrefix(ls, "'nonce-") && strings.HasSuffix(s, "'"):
				sp.nonces = append(sp.nonces, s[len("'nonce-"):len(s)-1])
			case strings.HasPrefix(ls, "'sha256-"), strings.HasPrefix(ls, "'sha384-"), strings.HasPrefix(ls, "'sha512-"):
				sp.hashes = append(sp.hashes, strings.Trim(s, "'"))
			case ls == "'unsafe-inline'":
				sp.unsafeInline = true
			}
		}
		return sp, true
	}
	return scriptPolicy{}, false
}

// checkCSP reports whether every policy of the page lets the snippet's
// scripts run: each carries a nonce that the policy allows, or, for a policy
// without nonces, an inline script is allowed by 'unsafe-inline' or its hash.
func checkCSP(h http.Header, doc *html.Node, scripts []*html.Node) finding {
	ps := scriptPolicies(h, doc)
	if len(ps) == 0 {
		return ok("csp", "no Content-Security-Policy restricts scripts")
	}
	var nonces []string
	for _, p := range ps {
		for i, s := range scripts {
			if msg := blocked(p, s, i); msg != "" {
				return fail("csp", "%s", msg)
			}
			if n := attr(s, "nonce"); n != "" && !slices.Contains(nonces, n) {
				nonces = append(nonces, n)
			}
		}
	}
	which := "the widget's script"
	if len(scripts) > 1 {
		which = fmt.Sprintf("the widget's %d scripts", len(scripts))
	}
	if len(nonces) == 0 {
		return ok("csp", "%s allows %s (%s)", ps[0].from, which, ps[0].directive)
	}
	return ok("csp", "nonce %q on %s matches %s (%s)", strings.Join(nonces, `", "`), which, ps[0].from, ps[0].directive)
}

// blocked says why policy p blocks s, the i-th script of the snippet, or ""
// if it lets it run.
func blocked(p scriptPolicy, s *html.Node, i int) string {
	which := "the widget's script"
	if i > 0 {
		which = fmt.Sprintf("script %d of the widget (after the embed code)", i+1)
	}
	nonce := attr(s, "nonce")
	if len(p.nonces) > 0 {
		switch {
		case slices.Contains(p.nonces, nonce):
			return ""
		case nonce == "":
			return fmt.Sprintf("%s has no nonce, and %s (%s) allows only scripts with 'nonce-%s': give New WithNonce, with a function that returns the nonce your CSP middleware put in the request", which, p.from, p.directive, p.nonces[0])
		}
		return fmt.Sprintf("%s has nonce %q, and %s (%s) allows 'nonce-%s': WithNonce must return this response's nonce (where the CSP middleware put it in the request), not another one", which, nonce, p.from, p.directive, strings.Join(p.nonces, "' 'nonce-"))
	}
	if hasAttr(s, "src") {
		return "" // allowed or not by the policy's host sources, which check does not match
	}
	if len(p.hashes) > 0 {
		if hashAllowed(p.hashes, scriptText(s)) {
			return ""
		}
		return fmt.Sprintf("%s is inline and %s (%s) allows inline scripts only by hash, which cannot cover a token that changes per visitor: use a nonce per response in the policy and WithNonce", which, p.from, p.directive)
	}
	if p.unsafeInline {
		return ""
	}
	return fmt.Sprintf("%s is inline and %s (%s) has neither a nonce nor 'unsafe-inline', so the browser blocks it: use a nonce per response in the policy and WithNonce", which, p.from, p.directive)
}

// hashAllowed reports whether one of the CSP hash sources matches text.
func hashAllowed(hashes []string, text string) bool {
	s256 := sha256.Sum256([]byte(text))
	s384 := sha512.Sum384([]byte(text))
	s512 := sha512.Sum512([]byte(text))
	b64 := base64.StdEncoding.EncodeToString
	for _, h := range hashes {
		alg, digest, _ := strings.Cut(h, "-")
		var want string
		switch strings.ToLower(alg) {
		case "sha256":
			want = b64(s256[:])
		case "sha384":
			want = b64(s384[:])
		case "sha512":
			want = b64(s512[:])
		}
		if digest == want {
			return true
		}
	}
	return false
}
