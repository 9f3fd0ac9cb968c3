// Package placement is a real-browser security test of where
// [github.com/chatwidget/chatwidget] puts its snippet. It holds only tests:
//
//	cd integration && go test -run TestPlacement -v ./placement/
//
// TestPlacement serves hostile pages (testdata/hostile, one attack per file,
// each saying at its top what it tries) and a seeded random corpus through
// the real middleware, loads each one in headless Chromium twice, with
// scripting on and with it off (blink-settings=scriptEnabled=false), and
// checks, for every page:
//
//   - no request that reached the attacker's server (a second loopback
//     server, whose URL the pages hold where they say ATTACKER) carries the
//     visitor's token, one of its three parts, or 16 characters of it, as
//     sent, percent-decoded, or re-read as the UTF-16 bytes of its characters;
//   - in Chromium's DOM, template content and open shadow roots included, the
//     token is only text of an HTML <script> with no <template>, <svg>,
//     <math>, <noscript>, <textarea>, <title>, <style>, <iframe>, <noembed>,
//     <noframes> or <xmp> ancestor: never an attribute, a comment or other
//     text;
//   - the same in golang.org/x/net/html's tree of the served body (html.Parse
//     in the same scripting mode), which stands in for the standard where
//     Chromium departs from it;
//   - when html.Parse puts the inserted customer-data script outside foreign
//     content and <template>, Chromium has it under the same ancestors and,
//     with scripting on, ran it; the embed code ran too (not half a snippet);
//     an XHTML page stays well-formed (no <parsererror>);
//   - the control pages (marked "@widget: must") get the widget and run it,
//     so that the test cannot pass by never inserting anything, and pages
//     marked "@widget: never" (XHTML, which the library leaves alone) get
//     none.
//
// Each page's first comment may carry directives, one a line:
// "@content-type: VALUE" (repeatable: one header line each; "none" for no
// header; default "text/html; charset=utf-8"), "@encode: utf-16le-bom" or
// "@encode: utf-8-bom" (the file is UTF-8, sent as UTF-16LE or UTF-8 after
// a byte order mark),
// "@widget: must", "@attacker: none" (the page may make no request at all to
// the attacker) and "@click: SELECTOR" (click it after the load, e.g. a
// form's button, and wait for what the form sends).
//
// The random corpus has CHATWIDGET_PLACEMENT_N pages (default 60) made from
// the pieces that steer HTML tree construction; CHATWIDGET_PLACEMENT_SEED
// replays a run (the seed is printed). Without a browser the test is skipped,
// loudly, unless CI is set: then it fails. CHROME_PATH picks the browser.
//
// Departures of Chromium 148 from x/net/html found so far (both parse
// <select> as the 2025 standard does): Chromium attaches a declarative shadow
// root (<template shadowrootmode>), where scripts run, and x/net/html keeps a
// <template>; an end tag </foreignObject> met in SVG content and handed to
// the "in body" rules closes an HTML <foreignobject> element, and the <svg>
// inside it, in x/net/html (as the standard reads), not in Chromium
// (testdata/hostile/svg-foreignobject-end-departure.html).
package placement
