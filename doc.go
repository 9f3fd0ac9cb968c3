// Package chatwidget hands the logged-in visitor's identity to a live-chat
// widget: it is net/http middleware that asks a [Resolver] who the visitor
// is, signs their data as an RS256 JWT with the site's RSA private key, and
// streams every HTML page through a rewriter that inserts the vendor's embed
// code and customer-data code right before </body>.
//
//	mw, err := chatwidget.New("my-widget-id", chatwidget.KeyFile("private.pem"),
//		chatwidget.SessionResolver(store, "session", chatwidget.SessionKeys{
//			Name:   "name",
//			Email:  "email",
//			Fields: map[string]string{"User ID": "uid"},
//		}))
//	if err != nil {
//		log.Fatal(err) // says what is wrong and what to do
//	}
//	http.ListenAndServe(":8080", mw.Handler(mux)) // or r.Use(mw.Handler)
//
// # Claims
//
// A logged-in visitor's token carries name, isLoggedIn: true, email (when
// known), sub (when [Visitor.Subject] is set), each custom field as a
// top-level claim named by its label, iat and exp ([WithTTL]), and iss and aud
// when set ([WithIssuer], [WithAudience]). A custom field named like one of
// these claims is logged and dropped. Tokens are cached per claims and reused
// while half their TTL remains ([WithTokenCacheBytes]).
//
// # Where the widget goes
//
// The widget is inserted once, right before the first </body> end tag that
// a browser's HTML parser acts on as one, where the inserted scripts are
// HTML script elements that run; failing that, before the first such
// </html> end tag; failing that, at the end if the response began a
// document (a doctype, <html> or <body> start tag) and the page ends in
// text, outside every tag, comment, raw-text element (<textarea>, <title>,
// <style>, <noscript>, …), <plaintext>, template and foreign content. A
// page that already carries a <script data-chatwidget> before that point
// (see [Middleware.Snippet]) is left alone.
//
// "As a browser's parser acts on it" means that the rewriter follows the
// parts of the HTML standard's tree construction that change how later
// bytes are read: inside <svg> and <math> there is no raw text and CDATA
// sections are real, integration points (foreignObject, desc and title in
// SVG; MathML's token elements and annotation-xml) switch back to HTML, and
// breakout tags (<p>, <div>, <b>, …) end foreign content; <noscript> must
// be read alike by browsers with scripting on and off; nothing goes inside
// <template>, <select> or foreign content. Where a streaming reader cannot
// know what the browser does (a <frameset>, a raw-text tag inside <select>,
// markup it cannot follow, nesting deeper than 32 elements), the page gets
// no widget, is logged at debug level and counted in [Middleware.Stats]:
// never a guess.
//
// The widget goes only into pages a browser decodes as ASCII-compatible
// text: UTF-8, or the single-byte windows-1252 (ISO-8859-1, US-ASCII),
// ISO-8859-15, windows-1250 and windows-1251 when the snippet is ASCII. A
// page with a byte order mark of UTF-16, or another charset, is left alone.
// A page whose Content-Type names no charset is settled as browsers settle
// it (byte order mark, then the <meta> prescan of its first 1024 bytes): if
// that finds UTF-8 or nothing, the middleware sets charset=utf-8, so that no
// <meta> the page lets through can switch the encoding; otherwise the page
// is left alone.
//
// Fragments are not pages, since a script that swaps one into a page would
// start a second widget. No widget goes into:
//   - the response to a request whose Sec-Fetch-Dest is not "document" (an
//     iframe, or a fetch, which is how htmx and Turbo load fragments), unless
//     it is a <link rel=prefetch> (Sec-Purpose or Purpose: prefetch), kept by
//     the browser for a navigation;
//   - from a client that sends no Sec-Fetch-Dest, the response to an htmx
//     request (HX-Request) or a Turbo Frame request;
//   - a response with no document structure.
//
// Only responses that are HTML (text/html, read from the Content-Type as
// browsers read it, or sniffed as net/http does when none is set) and have
// a body are touched; application/xhtml+xml pages are left alone, since the
// browser's XML parser would stop at the first byte of the snippet that is
// not well-formed XML.
// 1xx, 204, 206, 3xx and 304 responses, responses with a Content-Range or a
// Content-Encoding other than gzip, deflate, br and zstd, downloads (Content-Disposition: attachment), hijacked
// connections and everything that is not HTML pass through byte for byte,
// with sendfile still used for files. A HEAD response gets the headers of the
// page a GET would get, and no widget. The resolver is called only for pages
// that get the widget (and for HEAD, to know their headers).
//
// The rewriter streams: what precedes the insertion point reaches the client
// as it is written, except the few bytes of an end tag cut by a write
// boundary, and Flush reaches the client. Memory stays constant whatever the
// size of the page.
//
// # Headers
//
// A rewritten page loses Content-Length, a strong ETag and Accept-Ranges.
// Every response that a navigation to the same URL would give the widget,
// whether it got it or not (a fetch, an iframe, a fragment, an anonymous
// page), varies on Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request,
// Turbo-Frame and Cookie. A page that carries a token is kept out of shared
// caches and out of the browser's cache past the token's exp:
// Cache-Control: private, with public, s-maxage, immutable and the
// stale-while-revalidate kin removed and max-age clamped to the token's
// life; Expires, Last-Modified, ETag and the CDN-targeted cache headers
// (CDN-Cache-Control, Surrogate-Control, Edge-Control, X-Accel-Expires) go.
//
// # Order with other middleware
//
// A page the handler compresses (gzip, deflate, br, zstd) is decoded,
// rewritten and encoded again in its coding. When [WithNonce] gives no
// nonce, the inserted scripts take the one the page's own
// Content-Security-Policy names, in a header or in a <meta http-equiv> of the
// document's head; a page whose policies would block them gets no widget and
// a warning, and one whose policies would block the [WithRefresh] script's
// fetch of the token endpoint gets the widget without that script, and a
// warning. So compression and CSP may be inside chatwidget or in the
// handlers themselves; compressing outside costs less, the page being
// compressed once.
package chatwidget
