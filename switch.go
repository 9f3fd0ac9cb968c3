package chatwidget

import "net/http"

// Switch returns middleware that picks, for each request, which widget's
// [Middleware] wraps the handler: a site with several widgets (per section,
// host or language) makes one Middleware per widget, each with its own key
// (the vendor recommends a key pair per widget), templates and token cache,
// so that one widget's keys never sign for another. pick returning nil means
// no widget for that request.
//
// Each widget's handlers ([Middleware.TokenHandler], [Middleware.JWKSHandler],
// [Middleware.MobileHandler]) are mounted on their own paths.
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
