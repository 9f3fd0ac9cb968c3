// Package rewrite is the streaming HTML rewriter: it copies a page to an
// [io.Writer] and inserts a snippet once, right before the first </body>
// end tag that a browser's parser acts on as one (failing that, the first
// such </html> end tag; failing that, the end of a document), where the
// snippet's scripts are HTML script elements that run. Where a streaming
// reader cannot know what the browser does, it inserts nothing and says
// why ([Injector.Refusal]): it never guesses.
//
// It knows nothing of HTTP or tokens: bytes in, bytes out. The root
// package reaches it only through [Injector] (Reset, Write, Flush, Close
// and a few questions), the [Decider] the writer hands over to make the
// snippet once the page is known to be a document (a [Placer], which makes
// it final at the insertion point once the head's <meta>
// Content-Security-Policy tags are known), [Encoding] with
// [LabelEncoding], and [MarkerAttr]; the compiler keeps it that way, since
// nothing else is exported and this package imports no net/http.
//
// # What to read first
//
// Read the files in this order.
//
//   - injector.go: [Injector], the stream. It holds back only what a tag cut
//     by a write boundary needs (a possible </body> or </html>, and up to
//     4 KiB after a </html> in case a </body> follows), inserts the snippet,
//     asks the [Decider] once, reads the head's <meta> tags for a
//     [Placer], and runs a second scanner over <noscript> as a browser with
//     scripting off reads it. It drives the scanner through
//     scan, acting on the events scan returns, and asks tree.go before it
//     inserts (canInsert, canEnd).
//   - scanner.go: the resumable scanner. It keeps only the states of the
//     HTML tokenizer that decide where tags, comments and raw text begin and
//     end, named after the standard's (and x/net/html's), jumps between the
//     bytes that matter with bytes.IndexByte, and stops after each event
//     (a possible </body>, a sign of a document, the marker, a reason to
//     give up) so that the injector can act on it.
//   - fast.go: the fast paths that read most tags, and script data, eight
//     bytes at a time (the SWAR word tests). They save no state: each reads
//     only what ends within the write at hand and leaves anything else to
//     the resumable states.
//   - tree.go: the bounded stack of the open elements that change how later
//     bytes are read (foreign content and its integration points, template,
//     select, frameset, formatting runs), and the places where the scanner
//     gives up (the ambiguity guard).
//   - charset.go: the page's encoding as browsers settle it (byte order
//     mark, then the <meta> prescan), read once at the head of the stream:
//     the snippet goes only where every byte below 0x80 is that ASCII
//     character.
//
// # How it is held to the browser
//
// FuzzInject holds the whole to x/net/html's parser, with scripting on and
// off, on every input and every chunking; TestTreeExhaustive does the same
// on every short sequence of the pieces that steer tree construction
// (CHATWIDGET_LONG=1 for longer ones), and TestHostilePages on each attack
// class. TestFastPathsExhaustive and TestWatchedNames hold the fast paths
// to the tokenizer on every short sequence of the bytes that steer them.
// Headless Chromium is the final judge, in the examples module's placement
// harness. Memory is constant in the size of the page.
package rewrite
