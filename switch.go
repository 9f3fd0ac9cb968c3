package chatwidget

import "net/http"

// Switch returns middleware that picks, for each request, which widget's
// [Middleware] wraps the handler: a site with several widgets (per section,
// host or language) makes one Middleware per widget, each with its own key
// (the vendor recommends a key pair per widget), templates and token cache,
// so that one widget's keys never sign for another. pick returning nil means
// no widget for that request.
//
// Each widget answers its own endpoints (see [WithEndpoints]) under its
// prefix, for the requests pick gives it: give each one a prefix that pick
// sends to it, such as WithEndpoints("/en/chatwidget/") for the widget of
// pick's "/en/" section, so that a tab's refresh fetches its own widget's
// token; or turn them off with WithEndpoints("") and mount each widget's
// handlers ([Middleware.TokenHandler], [Middleware.JWKSHandler],
// [Middleware.MobileHandler]) on paths of its own.
func Switch(pick func(r *http.Request) *Middleware) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if m := pick(r); m != nil {
				m.serve(w, r, next)
				return
			}
			next.ServeHTTP(w, steppedAside(r))
		})
	}
}
