package chatwidget

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// counts are the counters behind Stats.
type counts struct {
	refused atomic.Uint64
}

// Stats are counts of what a [Middleware] did since [New] made it. The
// counters only grow: sample Stats twice and divide the difference by the
// time between the samples for rates (hits per second, signatures per
// second), as a Prometheus counter or expvar.Func would.
type Stats struct {
	// PagesRefused counts the HTML pages that got no widget because the
	// middleware could not be sure where a browser would run it: markup
	// it cannot follow (see the package doc, "Where the widget goes"), an
	// encoding other than UTF-8 or a listed single-byte one, or a page
	// that ends inside raw text, a comment or foreign content. Each such
	// page is also logged, at debug level, once.
	PagesRefused uint64

	// TokenCacheHits counts the tokens taken from the cache, and
	// TokenCacheMisses the lookups that found none (or only an expired
	// one). Hits / (hits + misses) is the hit ratio.
	TokenCacheHits, TokenCacheMisses uint64
	// TokenCacheEvictions counts the tokens dropped to make room for
	// others before they expired: a budget too small for the visitors of
	// half a TTL (see [WithTokenCacheBytes]) shows here.
	TokenCacheEvictions uint64
	// TokenCacheEntries and TokenCacheBytes are what the cache holds now:
	// its tokens and the memory it counts for them (the tokens and their
	// bookkeeping), at most TokenCacheBudget.
	TokenCacheEntries, TokenCacheBytes, TokenCacheBudget uint64
	// TokensSigned counts the signatures made (or tried, if the signer
	// failed): one per cache miss, or per token when the cache is off. Each
	// costs about a millisecond of CPU with RS256 and a 2048-bit key, so
	// its rate is the CPU the site spends on signing.
	TokensSigned uint64
}

// Stats returns the middleware's counts. It is safe to call at any time,
// and costs a moment's lock of each part of the token cache.
func (m *Middleware) Stats() Stats {
	s := m.signer.stats()
	s.PagesRefused = m.counts.refused.Load()
	return s
}

// noteRefused counts and logs a page that got no widget for want of a safe
// place, with the reason, a fixed string that holds nothing from the page.
func (m *Middleware) noteRefused(r *http.Request, reason string) {
	m.counts.refused.Add(1)
	m.logger.LogAttrs(r.Context(), slog.LevelDebug, "chatwidget: no widget in this page: no place where a browser would surely run it",
		slog.String("reason", reason), slog.String("path", truncate(r.URL.Path, 200)))
}

// A logKind is a kind of request-time log record; each kind is rate
// limited on its own.
type logKind uint8

const (
	logUndecodableSession logKind = iota // DEBUG: a session cookie that cannot be decoded
	logResolverFailed                    // ERROR: the resolver returned an error
	logResolverPanicked                  // ERROR: the resolver panicked
	logFieldsDropped                     // WARN: custom fields with reserved names, bad labels or values
	logFieldsTooLarge                    // WARN: all custom fields dropped for WithMaxFieldsSize
	logTokenTooLarge                     // WARN: fields dropped for WithMaxTokenSize
	logTokenAnonymous                    // WARN: a visitor served as anonymous for WithMaxTokenSize
	logSignFailed                        // ERROR: a token could not be signed
	logBadNonce                          // WARN: the CSP nonce is not base64
	logCrossOrigin                       // DEBUG: a token request from another origin
	logSnippetLate                       // WARN: Snippet called once the headers were out and unfit for the widget
	numLogKinds
)

// DefaultLogInterval is how often at most a [Middleware] logs each kind of
// request-time problem when [WithLogInterval] is not given.
const DefaultLogInterval = time.Minute

// A logLimiter writes at most one record of each kind per interval, so that
// what visitors send (garbage cookies, oversized profiles) cannot flood a
// site's logs. The first record of a kind goes out at once; those that
// follow within the interval are counted, and the next record carries that
// count as "suppressed".
type logLimiter struct {
	logger *slog.Logger
	every  time.Duration // 0: every record
	now    func() time.Time

	mu    sync.Mutex
	kinds [numLogKinds]struct {
		next       time.Time // no record of this kind before then
		suppressed uint64
	}
}

func newLogLimiter(logger *slog.Logger, every time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{logger: logger, every: every, now: now}
}

// log writes a record of kind at level, unless one went out less than an
// interval ago.
func (l *logLimiter) log(ctx context.Context, kind logKind, level slog.Level, msg string, attrs ...slog.Attr) {
	if !l.logger.Enabled(ctx, level) {
		return
	}
	var suppressed uint64
	if l.every > 0 {
		l.mu.Lock()
		k := &l.kinds[kind]
		now := l.now()
		if now.Before(k.next) {
			k.suppressed++
			l.mu.Unlock()
			return
		}
		suppressed, k.suppressed, k.next = k.suppressed, 0, now.Add(l.every)
		l.mu.Unlock()
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", suppressed))
	}
	l.logger.LogAttrs(ctx, level, msg, attrs...)
}
