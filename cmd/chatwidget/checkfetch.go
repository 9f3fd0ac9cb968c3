package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// maxBody bounds what check reads of a response: more than any page.
const maxBody = 32 << 20

// userAgent is the User-Agent check sends: a desktop Chrome's, since sites
// and the middleware's neighbours may treat bots apart, with check's name at
// the end for the site's logs.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36 chatwidget-check"

// A destination is what a browser fetches a URL for: its Sec-Fetch-Dest,
// Sec-Fetch-Mode and Accept.
type destination struct {
	dest, mode, accept string
}

// The destinations check fetches for.
var (
	destDocument = destination{"document", "navigate", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"}
	destEmpty    = destination{"empty", "cors", "*/*"} // fetch() and XMLHttpRequest
	destImage    = destination{"image", "no-cors", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"}
	destScript   = destination{"script", "no-cors", "*/*"}
	destStyle    = destination{"style", "no-cors", "text/css,*/*;q=0.1"}
	destFont     = destination{"font", "cors", "*/*"}
)

// destinationOf guesses from the path of u how a page fetches it: an image,
// a script, a style sheet or a font by its extension, anything else (JSON,
// an API) by fetch().
func destinationOf(u *url.URL) destination {
	switch strings.ToLower(path.Ext(u.Path)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp":
		return destImage
	case ".js", ".mjs":
		return destScript
	case ".css":
		return destStyle
	case ".woff", ".woff2", ".ttf", ".otf":
		return destFont
	}
	return destEmpty
}

// A fetcher fetches URLs as a browser does, with the visitor's cookies.
type fetcher struct {
	client  *http.Client
	cookies string // the Cookie header, "" for none
	page    *url.URL
}

// A fetched response is a response and its body, read whole.
type fetched struct {
	*http.Response
	body []byte
}

// fetch gets u for d, as a browser would from the page f.page (or, for
// d = destDocument, typed into the address bar: Sec-Fetch-Site none).
func (f *fetcher) fetch(ctx context.Context, u *url.URL, d destination) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("User-Agent", userAgent)
	h.Set("Accept", d.accept)
	h.Set("Accept-Language", "en-US,en;q=0.9")
	h.Set("Sec-Fetch-Dest", d.dest)
	h.Set("Sec-Fetch-Mode", d.mode)
	site := "none"
	if d != destDocument {
		site = fetchSite(f.page, u)
	}
	h.Set("Sec-Fetch-Site", site)
	if d == destDocument {
		h.Set("Sec-Fetch-User", "?1")
		h.Set("Upgrade-Insecure-Requests", "1")
	} else if d.mode == "cors" && site != "same-origin" {
		h.Set("Origin", origin(f.page))
	}
	// A navigation sends the cookies; fetch() by default only to its own
	// origin, and images and scripts to the page's site.
	if f.cookies != "" && (d == destDocument || site == "same-origin" || site == "same-site" && d.mode == "no-cors") {
		h.Set("Cookie", f.cookies)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return nil, fmt.Errorf("the response has Content-Encoding %s, which check cannot decode", ce)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the response: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("the response is larger than %d MiB", maxBody>>20)
	}
	return &fetched{resp, body}, nil
}

// fetchSite is the Sec-Fetch-Site of a request from a page at from to u.
func fetchSite(from, u *url.URL) string {
	switch {
	case origin(from) == origin(u):
		return "same-origin"
	case from.Scheme == u.Scheme && site(from.Hostname()) == site(u.Hostname()):
		return "same-site"
	}
	return "cross-site"
}

// origin is the scheme, host and port of u.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// site is the registrable domain of host (example.com for www.example.com),
// or host itself for an IP address or a name with no public suffix.
func site(host string) string {
	if s, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return s
	}
	return host
}
