package chatwidget

import (
	"log/slog"
	"net/http"
	"sync/atomic"
)

// counts are the counters behind Stats.
type counts struct {
	refused atomic.Uint64
}

// Stats are counts of what a [Middleware] did since [New] made it.
type Stats struct {
	// PagesRefused counts the HTML pages that got no widget because the
	// middleware could not be sure where a browser would run it: markup
	// it cannot follow (see the package doc, "Where the widget goes"), an
	// encoding other than UTF-8 or a listed single-byte one, or a page
	// that ends inside raw text, a comment or foreign content. Each such
	// page is also logged, at debug level, once.
	PagesRefused uint64
}

// Stats returns the middleware's counts. It is safe to call at any time.
func (m *Middleware) Stats() Stats {
	return Stats{PagesRefused: m.counts.refused.Load()}
}

// noteRefused counts and logs a page that got no widget for want of a safe
// place, with the reason, a fixed string that holds nothing from the page.
func (m *Middleware) noteRefused(r *http.Request, reason string) {
	m.counts.refused.Add(1)
	m.logger.LogAttrs(r.Context(), slog.LevelDebug, "chatwidget: no widget in this page: no place where a browser would surely run it",
		slog.String("reason", reason), slog.String("path", truncate(r.URL.Path, 200)))
}
