package chatwidget

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// counts are the counters behind Stats.
type counts struct {
	refused [numRefusals]atomic.Uint64
}

// A refusal is why a page loaded as a document gets no widget.
type refusal uint8

const (
	notRefused         refusal = iota
	refusedPlacement           // markup the rewriter cannot follow (the ambiguity guard): hostile markup can cause it
	refusedPageEnd             // the page ends inside a tag, a comment, raw text or foreign content
	refusedCharset             // a charset the snippet may not go into, or Content-Type values that disagree
	refusedEncoding            // a Content-Encoding the writer does not decode
	refusedUndecodable         // a body that does not decode as its Content-Encoding says
	refusedCSP                 // a Content-Security-Policy that would block the inserted scripts
	numRefusals
)

// pageEndRefusal is the injector's reason for a page that ends where a
// browser would not run the snippet.
const pageEndRefusal = "the page ends where a browser would not run the snippet"

// injectorRefusal returns the kind of the injector's reason.
func injectorRefusal(reason string) refusal {
	switch {
	case reason == pageEndRefusal:
		return refusedPageEnd
	case strings.HasPrefix(reason, "the page's encoding"):
		return refusedCharset
	}
	return refusedPlacement
}

// refusalLogs says how each refusal is logged: its kind of record, its
// level, and the message, which names the fix. Placement refusals stay at
// debug level, since a visitor's markup in a page can cause them; the rest
// are for the site's owner to fix.
var refusalLogs = [numRefusals]struct {
	kind  logKind
	level slog.Level
	msg   string
}{
	refusedPlacement:   {logRefusedPlacement, slog.LevelDebug, "chatwidget: no widget in this page: no place where a browser would surely run it"},
	refusedPageEnd:     {logRefusedPageEnd, slog.LevelWarn, "chatwidget: no widget in this page: it has no </body> or </html> end tag, and it ends inside a tag, a comment, raw text or foreign content; end the page's template with </body></html>"},
	refusedCharset:     {logRefusedCharset, slog.LevelWarn, "chatwidget: no widget in this page: its charset is not one the snippet may go into (UTF-8, or windows-1252, ISO-8859-15, windows-1250 or windows-1251 with an ASCII snippet), or its Content-Type values disagree; serve the page as UTF-8 (Content-Type: text/html; charset=utf-8)"},
	refusedEncoding:    {logRefusedEncoding, slog.LevelWarn, "chatwidget: no widget in this page: its Content-Encoding is not one the middleware decodes; compress pages with one of gzip, deflate, br or zstd (one layer), or let the middleware see them uncompressed"},
	refusedUndecodable: {logRefusedUndecodable, slog.LevelWarn, "chatwidget: no widget in this page: its body does not decode as its Content-Encoding says; check that the handler writes only through its compressor and closes it before returning"},
	refusedCSP:         {logRefusedCSP, slog.LevelWarn, "chatwidget: no widget in this page: its Content-Security-Policy would block the inserted scripts; give script-src (or script-src-elem, or default-src) a nonce-source, 'nonce-…' with the nonce of the page's own scripts, or set WithNonce to the nonce it names"},
}

// Stats are counts of what a [Middleware] did since [New] made it. The
// counters only grow: sample Stats twice and divide the difference by the
// time between the samples for rates (hits per second, signatures per
// second), as a Prometheus counter or expvar.Func would.
type Stats struct {
	// PagesRefused counts the HTML pages loaded as documents that got no
	// widget for a reason Refused breaks down: markup the middleware
	// cannot follow, a page that ends inside raw text, a comment or
	// foreign content, a charset other than UTF-8 or a listed single-byte
	// one, a Content-Encoding it does not decode or a body that does not
	// decode, a Content-Security-Policy that would block the scripts.
	// Each kind is also logged, at most once per [WithLogInterval]: the
	// markup at debug level (a visitor's markup in the page can cause it),
	// the others as warnings that name the fix.
	PagesRefused uint64
	// Refused breaks PagesRefused down by reason.
	Refused RefusedPages

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

// RefusedPages counts the pages that got no widget, by reason; see
// [Stats.PagesRefused].
type RefusedPages struct {
	// Placement: markup the middleware cannot follow as a browser does
	// (see "Placement as browsers parse" in the README).
	Placement uint64
	// PageEnd: a page with no </body> or </html> that ends inside a tag,
	// a comment, raw text or foreign content.
	PageEnd uint64
	// Charset: a charset the snippet may not go into, or a snippet that
	// is not ASCII in a page that is not UTF-8.
	Charset uint64
	// Encoding: a Content-Encoding the middleware does not decode
	// (anything but gzip, deflate, br and zstd, or several layered).
	Encoding uint64
	// Undecodable: a body that does not decode as its Content-Encoding
	// says.
	Undecodable uint64
	// CSP: a Content-Security-Policy (a header, or a <meta> in the head)
	// that would block the inserted scripts: one that allows scripts by
	// hash or host alone, or policies that name no common nonce; or more
	// policies than the middleware checks (a <meta> over 8 KiB, more than
	// 16 policy <meta> tags, more than 64 policies).
	CSP uint64
}

// Stats returns the middleware's counts. It is safe to call at any time,
// and costs a moment's lock of each part of the token cache.
func (m *Middleware) Stats() Stats {
	s := m.signer.stats()
	c := &m.counts.refused
	s.Refused = RefusedPages{
		Placement:   c[refusedPlacement].Load(),
		PageEnd:     c[refusedPageEnd].Load(),
		Charset:     c[refusedCharset].Load(),
		Encoding:    c[refusedEncoding].Load(),
		Undecodable: c[refusedUndecodable].Load(),
		CSP:         c[refusedCSP].Load(),
	}
	for i := range c {
		s.PagesRefused += c[i].Load()
	}
	return s
}

// noteRefused counts and logs a page that got no widget, with why and what
// about it (a reason, a charset, a Content-Encoding: nothing that carries
// the page's content).
func (m *Middleware) noteRefused(r *http.Request, why refusal, what string) {
	m.counts.refused[why].Add(1)
	l := refusalLogs[why]
	m.logs.log(r.Context(), l.kind, l.level, l.msg,
		slog.String("reason", truncate(what, maxLogValue)), slog.String("path", truncate(r.URL.Path, 200)))
}

// maxLogValue is how many bytes of an error, a panic value or a refusal's
// reason a record carries, as it carries 200 of the path: a resolver, a
// signer or a decoder can make them of any size.
const maxLogValue = 200

// errorAttr is the "error" attribute of a record for err, cut to
// maxLogValue bytes.
func errorAttr(err error) slog.Attr {
	return slog.String("error", truncate(err.Error(), maxLogValue))
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
	logSnippetCSP                        // WARN: Snippet's widget would not run under the response's CSP headers
	logRefusedPlacement                  // DEBUG: no widget: markup the rewriter cannot follow
	logRefusedPageEnd                    // WARN: no widget: the page ends where a browser would not run it
	logRefusedCharset                    // WARN: no widget: the page's charset
	logRefusedEncoding                   // WARN: no widget: a Content-Encoding the writer does not decode
	logRefusedUndecodable                // WARN: no widget: a body that does not decode
	logRefusedCSP                        // WARN: no widget: a CSP that would block the scripts
	logRefreshBlocked                    // WARN: the widget without its refresh script: a CSP that would block its fetch
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
