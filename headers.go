package chatwidget

import (
	"net/http"
	"strconv"
	"strings"
)

// The header rules: what the writer changes in the headers of a page it
// rewrites, or that carries a token, so that they are true of the body and
// keep the token out of shared caches.

// header returns the first value of h's key, which must be in canonical
// form: unlike Get it does not canonicalize key on every call, which is
// most of the cost of passing a response through.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// pageVary is what a page that may get the widget varies on, whether it
// got it or not: the fetch metadata that decides whether it is loaded as a
// document (see loadedAsDocument), and the cookie that says who is logged
// in (a cached anonymous copy must not serve a visitor who has logged in
// since). Every variant of such a page carries it.
var pageVary = []string{"Sec-Fetch-Dest", "Sec-Purpose", "Purpose", "Hx-Request", "Turbo-Frame", "Cookie"}

// rewriteHeaders makes the headers h true of a rewritten page: its
// Content-Type, when the writer settled it (contentType; "" keeps the
// handler's), its length and strong validator change, ranges no longer
// apply, and it varies as pageVary says. A page with a token valid for
// maxAge more seconds is made private (see makePrivate).
func rewriteHeaders(h http.Header, contentType string, token bool, maxAge int64) {
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	// A handler may set a header by a key in any case (h["etag"]), and
	// net/http sends every key: the rules apply to each.
	canonicalize(h, "Cache-Control", "Etag", "Vary")
	deleteFold(h, "Content-Length", "Accept-Ranges")
	if et := header(h, "Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Del("Etag")
	}
	addVary(h, pageVary...)
	if token {
		makePrivate(h, maxAge)
	}
}

// makePrivate keeps a response that carries a token, valid for maxAge more
// seconds, out of shared caches and out of the browser's cache past its exp:
// Cache-Control gets a plain private, loses public, s-maxage and a qualified
// private="…", and keeps a max-age only up to maxAge; CDN-targeted cache
// headers (RFC 9213), which CDNs obey over Cache-Control, and the validators
// and Expires go; Vary gets Cookie.
func makePrivate(h http.Header, maxAge int64) {
	canonicalize(h, "Cache-Control", "Vary")
	kept := []string{"private"}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, val, hasVal := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "public", "s-maxage", "private", "proxy-revalidate",
				"stale-while-revalidate", "stale-if-error", "immutable":
				continue // may serve the page past the token's exp
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `" `), 10, 64); !hasVal || err != nil || n > maxAge || n < 0 {
					d = "max-age=" + strconv.FormatInt(max(maxAge, 0), 10)
				}
			}
			kept = append(kept, d)
		}
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
	const cdn = "Cdn-Cache-Control" // and its kin, such as Cloudflare-CDN-Cache-Control
	for k := range h {
		if len(k) >= len(cdn) && strings.EqualFold(k[len(k)-len(cdn):], cdn) {
			delete(h, k)
		}
	}
	// Surrogate-Control (Fastly, Akamai), Edge-Control (Akamai) and
	// X-Accel-Expires (nginx) make a shared cache keep the page too.
	deleteFold(h, "Surrogate-Control", "Edge-Control", "X-Accel-Expires", "Etag", "Last-Modified", "Expires")
	addVary(h, "Cookie")
}

// canonicalize moves the values of every key of h that is one of names in
// another case (h["cache-control"]) under the canonical key.
func canonicalize(h http.Header, names ...string) {
	for k, v := range h {
		for _, name := range names {
			if k != name && strings.EqualFold(k, name) {
				h[name] = append(h[name], v...)
				delete(h, k)
			}
		}
	}
}

// deleteFold deletes every key of h that is one of names in any case.
func deleteFold(h http.Header, names ...string) {
	for k := range h {
		for _, name := range names {
			if strings.EqualFold(k, name) {
				delete(h, k)
			}
		}
	}
}

// addVary adds fields to the Vary header, unless they, or "*", are there.
// It allocates only the new value and, if it grows, the header's slice.
func addVary(h http.Header, fields ...string) {
	vs := h["Vary"]
	if hasField(vs, "*") {
		return
	}
	var b strings.Builder
	for _, f := range fields {
		if hasField(vs, f) {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(fields) * 16)
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f)
	}
	if b.Len() > 0 {
		h["Vary"] = append(vs, b.String())
	}
}

// hasField reports whether the comma-separated values vs name field, in any
// case.
func hasField(vs []string, field string) bool {
	for _, v := range vs {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}
