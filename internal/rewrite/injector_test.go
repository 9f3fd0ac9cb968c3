package rewrite

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const testSnippet = "<script data-chatwidget>W</script>"

// oracle returns where x/net/html's tokenizer alone would put the snippet in
// page, or -1 when the page carries a marker script before its first
// </body>, or is a fragment: no </body>, no </html> and no doctype, <html>
// or <body>. It is the reference of the fast-path tests, which hold the
// fast paths to the tokenizer on pages with no markup that steers tree
// construction; the judge of placement is checkPlacement.
func oracle(page []byte) int {
	z := html.NewTokenizer(bytes.NewReader(page))
	off, htmlAt, doc := 0, -1, false
	for {
		tt := z.Next()
		switch {
		case tt == html.ErrorToken && htmlAt >= 0:
			return htmlAt
		case tt == html.ErrorToken && doc:
			return len(page)
		case tt == html.ErrorToken:
			return -1 // a fragment
		}
		name, _ := z.TagName()
		start := tt == html.StartTagToken || tt == html.SelfClosingTagToken
		if tt == html.DoctypeToken || start && (string(name) == "html" || string(name) == "body") {
			doc = true
		}
		switch {
		case tt == html.EndTagToken && string(name) == "body":
			return off
		case tt == html.EndTagToken && string(name) == "html" && htmlAt < 0:
			htmlAt = off
		case (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && string(name) == "script" && hasMarker(z):
			return -1
		}
		off += len(z.Raw())
	}
}

func hasMarker(z *html.Tokenizer) bool {
	for {
		k, _, more := z.TagAttr()
		if string(k) == MarkerAttr {
			return true
		}
		if !more {
			return false
		}
	}
}

// want is what the injector must write for page.
func want(page []byte, snippet string) []byte {
	at := oracle(page)
	if at < 0 {
		return page
	}
	return []byte(string(page[:at]) + snippet + string(page[at:]))
}

// inject runs page through an injector, cut into writes at the given offsets.
func inject(page []byte, cuts ...int) []byte {
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	return feed(j, &out, page, cuts...)
}

func feed(j *Injector, out *bytes.Buffer, page []byte, cuts ...int) []byte {
	prev := 0
	for _, c := range cuts {
		j.Write(page[prev:c])
		prev = c
	}
	j.Write(page[prev:])
	j.Close()
	return out.Bytes()
}

// newInjector returns an injector that inserts snippet, known from the
// start (the middleware's decides it through Reset).
func newInjector(w io.Writer, snippet []byte) *Injector {
	j := &Injector{}
	j.resetSnippet(w, snippet)
	return j
}

var injectCases = []struct {
	name, page, want string
}{
	{"body", "<html><body><p>hi</p></body></html>", "<html><body><p>hi</p>" + testSnippet + "</body></html>"},
	{"upper case", "<HTML><BODY>x</BODY></HTML>", "<HTML><BODY>x" + testSnippet + "</BODY></HTML>"},
	{"body with attributes", `<body>x</body class=">">`, `<body>x` + testSnippet + `</body class=">">`},
	{"first body only", "<body>a</body>b</body>", "<body>a" + testSnippet + "</body>b</body>"},
	{"no body, html", "<html><p>x</html>\n", "<html><p>x" + testSnippet + "</html>\n"},
	{"body after html", "<html>x</html></body>", "<html>x</html>" + testSnippet + "</body>"},
	{"neither", "<html><p>x</p>", "<html><p>x</p>" + testSnippet},
	{"neither, doctype only", "<!doctype html><p>x</p>", "<!doctype html><p>x</p>" + testSnippet},
	{"neither, body start tag", "<p>x</p><BODY class=a><p>y", "<p>x</p><BODY class=a><p>y" + testSnippet},
	{"fragment", "<p>x</p>", "<p>x</p>"},
	{"fragment with a table row", "<tr><td>1</td></tr>", "<tr><td>1</td></tr>"},
	{"fragment with a comment", "<!-- <body> --><li>x</li>", "<!-- <body> --><li>x</li>"},
	{"fragment with a cut doctype", "<!DOCTYP", "<!DOCTYP"},
	{"bogus doctype", "<!DOCTYPE", "<!DOCTYPE"},
	{"body in a script is no document", "<script>'<body>'</script>", "<script>'<body>'</script>"},
	{"empty", "", ""},
	{"in comment", "<!-- </body> --></body>", "<!-- </body> -->" + testSnippet + "</body>"},
	{"in script", "<script>'</body>'</script></body>", "<script>'</body>'</script>" + testSnippet + "</body>"},
	{"in style", "<style></body></style></body>", "<style></body></style>" + testSnippet + "</body>"},
	{"in textarea", "<textarea></body></textarea></body>", "<textarea></body></textarea>" + testSnippet + "</body>"},
	{"in title", "<title></body></title></body>", "<title></body></title>" + testSnippet + "</body>"},
	{"in cdata", "<![CDATA[</body>]]></body>", "<![CDATA[</body>]]>" + testSnippet + "</body>"},
	{"in attribute", `<a title="</body>"></a></body>`, `<a title="</body>"></a>` + testSnippet + `</body>`},
	{"in bogus comment", "<?x </body>?></body>", "<?x </body>?>" + testSnippet + "</body>"},
	{"escaped script", "<script><!--<script></script></body>--></script></body>", "<script><!--<script></script></body>--></script>" + testSnippet + "</body>"},
	{"bodyx is not body", "</bodyx></body>", "</bodyx>" + testSnippet + "</body>"},
	{"cut end tag", "<body>x</body", "<body>x</body"},
	{"plaintext", "<body><plaintext></body>", "<body><plaintext></body>"},
	{"marker", "<script data-chatwidget src=x></script></body>", "<script data-chatwidget src=x></script></body>"},
	{"marker upper case", "<SCRIPT DATA-CHATWIDGET></SCRIPT></body>", "<SCRIPT DATA-CHATWIDGET></SCRIPT></body>"},
	{"marker on div", "<div data-chatwidget></div></body>", "<div data-chatwidget></div>" + testSnippet + "</body>"},
	// A marked script counts only where it would run as the widget's.
	{"marker in template", "<template><script data-chatwidget></script></template></body>", "<template><script data-chatwidget></script></template>" + testSnippet + "</body>"},
	{"marker in svg", "<svg><script data-chatwidget></script></svg></body>", "<svg><script data-chatwidget></script></svg>" + testSnippet + "</body>"},
	{"marker after body", "</body><script data-chatwidget></script>", testSnippet + "</body><script data-chatwidget></script>"},
}

func TestInject(t *testing.T) {
	for _, tc := range injectCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inject([]byte(tc.page)); string(got) != tc.want {
				t.Errorf("Inject(%q) = %q, want %q", tc.page, got, tc.want)
			}
			page := []byte(tc.page)
			out, _ := injectOnce(page, placementSnippet)
			checkPlacement(t, page, out, placementSnippet)
		})
	}
}

// TestInjectEverySplit writes each page byte by byte, and cut in two at
// every offset, and expects the same output.
func TestInjectEverySplit(t *testing.T) {
	for _, tc := range injectCases {
		page := []byte(tc.page)
		bytewise := make([]int, len(page))
		for i := range bytewise {
			bytewise[i] = i
		}
		if got := inject(page, bytewise...); string(got) != tc.want {
			t.Errorf("%s byte by byte: Inject(%q) = %q, want %q", tc.name, tc.page, got, tc.want)
		}
		for cut := 0; cut <= len(page); cut++ {
			if got := inject(page, cut); string(got) != tc.want {
				t.Errorf("%s cut at %d: Inject(%q) = %q, want %q", tc.name, cut, tc.page, got, tc.want)
			}
		}
	}
}

// TestInjectStreams checks that bytes before the insertion point reach the
// writer during Write, except a cut end tag.
func TestInjectStreams(t *testing.T) {
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	j.Write([]byte("<html><body><p>first</p></bo"))
	if got, want := out.String(), "<html><body><p>first</p>"; got != want {
		t.Fatalf("after a write cut inside </body>, the writer has %q, want %q", got, want)
	}
	j.Write([]byte("dy>tail"))
	if got, want := out.String(), "<html><body><p>first</p>"+testSnippet+"</body>tail"; got != want {
		t.Fatalf("after </body>, the writer has %q, want %q", got, want)
	}
	j.Write([]byte("<more/>"))
	j.Close()
	if got, want := out.String(), "<html><body><p>first</p>"+testSnippet+"</body>tail<more/>"; got != want {
		t.Fatalf("at the end, the writer has %q, want %q", got, want)
	}
}

// TestInjectFlush checks that Flush writes all but a cut end tag, and that
// after </html> it commits to inserting there.
func TestInjectFlush(t *testing.T) {
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	j.Write([]byte("<body>a<"))
	j.Flush()
	if got, want := out.String(), "<body>a"; got != want {
		t.Fatalf("Flush with a cut tag wrote %q, want %q", got, want)
	}
	j.Write([]byte("b>c</html>d"))
	if got, want := out.String(), "<body>a<b>c"; got != want {
		t.Fatalf("after </html>, the writer has %q, want %q", got, want)
	}
	j.Flush()
	if got, want := out.String(), "<body>a<b>c"+testSnippet+"</html>d"; got != want {
		t.Fatalf("Flush after </html> wrote %q, want %q", got, want)
	}
}

// TestInjectHoldBounded checks the two documented limits of maxHold.
func TestInjectHoldBounded(t *testing.T) {
	long := strings.Repeat("x", 2*maxHold)
	tests := []struct{ name, page, want string }{
		{"long body end tag cut by EOF", "<body></body a='" + long, "<body>" + testSnippet + "</body a='" + long},
		{"body long after html", "<html></html>" + long + "</body>", "<html>" + testSnippet + "</html>" + long + "</body>"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		j := newInjector(&out, []byte(testSnippet))
		for i := 0; i < len(tc.page); i += 100 {
			j.Write([]byte(tc.page[i:min(i+100, len(tc.page))]))
			if len(j.hold) > maxHold+100 {
				t.Fatalf("%s: injector holds %d bytes, more than maxHold+write (%d)", tc.name, len(j.hold), maxHold+100)
			}
		}
		j.Close()
		if out.String() != tc.want {
			t.Errorf("%s: Inject = %.60q…, want %.60q…", tc.name, out.String(), tc.want)
		}
	}
}

// recordingDecider records the decision of a pending injector.
type recordingDecider struct {
	calls    int
	document bool
	snippet  []byte
}

func (d *recordingDecider) Decide(document bool) []byte {
	d.calls++
	d.document = document
	if !document {
		return nil
	}
	return d.snippet
}

// TestInjectPending checks that a pending injector writes nothing until it
// knows whether the stream is a document, and asks once.
func TestInjectPending(t *testing.T) {
	long := strings.Repeat("<li>x</li>", maxHold/10+10)
	tests := []struct {
		name       string
		writes     []string
		flush      bool
		after      string // written after the flush
		wantDoc    bool
		wantOut    string
		wantBefore string // written before the writes after the flush, and Close
	}{
		{"doctype", []string{"<!DOCTYPE html><p>a", "</body>"}, false, "", true, "<!DOCTYPE html><p>a" + testSnippet + "</body>", "<!DOCTYPE html><p>a" + testSnippet + "</body>"},
		{"body end without doctype", []string{"<p>a</bo", "dy>x"}, false, "", true, "<p>a" + testSnippet + "</body>x", "<p>a" + testSnippet + "</body>x"},
		{"html end", []string{"<p>a</html>"}, false, "", true, "<p>a" + testSnippet + "</html>", "<p>a"},
		{"fragment", []string{"<li>a</li>", "<li>b</li>"}, false, "", false, "<li>a</li><li>b</li>", ""},
		{"long fragment", []string{long, "<body>"}, false, "", false, long + "<body>", long + "<body>"},
		{"flushed fragment is held", []string{"<li>a</li>"}, true, "", false, "<li>a</li>", ""},
		{"flushed comment, then a doctype", []string{"<!-- x -->", "<!DOCTYPE html><p>"}, true, "", true, "<!-- x --><!DOCTYPE html><p>" + testSnippet, "<!-- x --><!DOCTYPE html><p>"},
		{"document sign past maxHold", []string{long + "<html>"}, false, "", false, long + "<html>", long + "<html>"},
		{"flush before any byte", nil, true, "<html><p>x", true, "<html><p>x" + testSnippet, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			d := &recordingDecider{snippet: []byte(testSnippet)}
			j := &Injector{}
			j.Reset(&out, d, EncodingUTF8)
			for _, w := range tc.writes {
				j.Write([]byte(w))
			}
			if tc.flush {
				j.Flush()
			}
			if out.String() != tc.wantBefore {
				t.Errorf("before Close, wrote %.60q, want %.60q", out.String(), tc.wantBefore)
			}
			j.Write([]byte(tc.after))
			j.Close()
			if out.String() != tc.wantOut {
				t.Errorf("wrote %.80q, want %.80q", out.String(), tc.wantOut)
			}
			if d.calls != 1 || d.document != tc.wantDoc {
				t.Errorf("decide called %d times with document=%v, want once with %v", d.calls, d.document, tc.wantDoc)
			}
		})
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

func TestInjectWriteError(t *testing.T) {
	j := newInjector(&failWriter{n: 1}, []byte(testSnippet))
	if _, err := j.Write([]byte("<p>a</p>")); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	if _, err := j.Write([]byte("</body>")); err == nil {
		t.Fatal("Write after the writer broke returned no error")
	}
	if err := j.Close(); err == nil {
		t.Fatal("Close after the writer broke returned no error")
	}
}

// FuzzInject holds the injector to the browser's parser: for any page, the
// output in one write must pass checkPlacement (x/net/html's parser, with
// scripting on and off: the snippet is a script that runs, the token is
// nowhere else, the page's tree is unchanged), and every other way of
// writing it must give the same output: cut into three writes with a Flush
// after any of them, in both modes (snippet known at once, or decided once
// the page is known to be a document), byte by byte, and padded so that
// the fast paths read it whole. What reached the writer after each Flush is
// a prefix of the output. Pages longer than maxHold meet the documented
// limits instead, which TestMaxHoldLimitsIgnoreWriteBoundaries and
// TestInjectHoldBounded cover.
func FuzzInject(f *testing.F) {
	for _, tc := range injectCases {
		f.Add([]byte(tc.page), uint16(len(tc.page)/2), uint16(len(tc.page)/3), uint8(0))
	}
	for _, tc := range hostileCases {
		f.Add([]byte(tc.page), uint16(len(tc.page)/2), uint16(len(tc.page)/3), uint8(5))
	}
	for _, s := range []string{
		"<!--></body>", "<!---></body>", "<!----!></body>", "<!--!--></body>--!></body>",
		"<script><!--</script></body>", "<script><!--<script>--></script></body>",
		"<script><!--<SCRIPT></script></body></script>--></script></body>",
		"<a b=\"c\"d='</body>'></body>", "<a =\"</body>\"></body>", "<a b= '>'></body>",
		"<a b=c\"></body>'>x</body>", "</ body></body>", "</></body>", "<!></body>",
		"<!DOCTYPE html><html><body></body></html>", "<noscript></body></noscript></body>",
		"<xmp></body ></xmp></body>", "<title></title </body>", "<script/></body></script></body>",
		"<html>x</html> </body>", "<html>x</html><p></body></body>",
		"<!doctypehtml><p>", "<!-DOCTYPE><p>", "<!DOCTYPE", "<htmlx><p>", "<bodY/><p>", "<ht",
		`<p a="></body>">x</body>`, `<p a='=></body>' b=></body>`, `<p a = "x" b='>'></body>`,
		`<svg><desc><b>x</b></desc><mi><p><math><mi>x<svg><foreignObject><p></body>`,
		`<math><annotation-xml><svg><style></svg></math></body>`, `<b><svg><title>t</title></svg></b></body>`,
		`<template><noscript><svg></noscript></template></body>`, `<svg><svg/><path d=1 /></svg></body>`,
	} {
		f.Add([]byte(s), uint16(3), uint16(7), uint8(7))
	}
	f.Fuzz(func(t *testing.T, page []byte, cut1, cut2 uint16, flushes uint8) {
		if len(page) > maxHold || bytes.Contains(page, []byte(placementToken)) {
			return
		}
		out, _ := injectOnce(page, placementSnippet)
		checkPlacement(t, page, out, placementSnippet)
		a, b := int(cut1)%(len(page)+1), int(cut2)%(len(page)+1)
		if a > b {
			a, b = b, a
		}
		for _, pending := range []bool{false, true} {
			exp := out
			var got bytes.Buffer
			j := newInjector(&got, []byte(placementSnippet))
			if pending {
				j.Reset(&got, &recordingDecider{snippet: []byte(placementSnippet)}, EncodingUTF8)
			}
			for k, piece := range [][]byte{page[:a], page[a:b], page[b:]} {
				j.Write(piece)
				if flushes&(1<<k) != 0 {
					if j.htmlAt >= 0 && !j.done {
						// Documented: a flush after </html> inserts there.
						exp = []byte(string(page[:j.htmlAt]) + placementSnippet + string(page[j.htmlAt:]))
						checkPlacement(t, page, exp, placementSnippet)
					}
					j.Flush()
					if !bytes.HasPrefix(exp, got.Bytes()) {
						t.Fatalf("pending=%v: after a flush at %d, wrote %q, not a prefix of %q", pending, len(page[:a])+len(piece), got.Bytes(), exp)
					}
				}
			}
			j.Close()
			if !bytes.Equal(got.Bytes(), exp) {
				t.Fatalf("pending=%v: Inject(%q) cut at %d,%d flushes %03b = %q, want %q", pending, page, a, b, flushes, got.Bytes(), exp)
			}
		}
		bytewise := make([]int, len(page))
		for i := range bytewise {
			bytewise[i] = i
		}
		if got := injectCuts(page, placementSnippet, bytewise...); !bytes.Equal(got, out) {
			t.Fatalf("Inject(%q) byte by byte = %q, want %q", page, got, out)
		}
		// The fast paths read only tags, comments and script data that end
		// within a write and leave eight bytes to spare: text after the
		// page lets them read its last ones too. Byte by byte, only the
		// resumable states run.
		padded := append(page[:len(page):len(page)], "                "...)
		got, _ := injectOnce(padded, placementSnippet)
		checkPlacement(t, padded, got, placementSnippet)
		bytewise = append(bytewise, len(page)+1, len(page)+2, len(page)+3)
		if slow := injectCuts(padded, placementSnippet, bytewise...); !bytes.Equal(got, slow) {
			t.Fatalf("Inject(%q) in one write = %q, byte by byte = %q", padded, got, slow)
		}
	})
}

// TestLongEndTagNames checks that end tags whose names begin like body or
// html but are longer are released at once: Flush reaches the client and the
// widget goes before the real </body>.
func TestLongEndTagNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body>")
	for range 200 {
		b.WriteString("<header-navigation-bar><a href=/>Home</a></header-navigation-bar><button-group-primary>x</button-group-primary>\n")
	}
	b.WriteString("</body></html>")
	page := b.String()
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	for i := 0; i < len(page); i += 512 {
		j.Write([]byte(page[i:min(i+512, len(page))]))
		j.Flush()
		if held := min(i+512, len(page)) - out.Len(); held > len("</body></html>") && out.Len() < len(page)-20 {
			t.Fatalf("after %d bytes and a flush, %d bytes are held", min(i+512, len(page)), held)
		}
	}
	j.Close()
	if want := strings.Replace(page, "</body>", testSnippet+"</body>", 1); out.String() != want {
		t.Fatalf("widget not right before </body>: at %d of %d", strings.Index(out.String(), testSnippet), len(page))
	}
}

// TestMaxHoldLimitsIgnoreWriteBoundaries checks that the documented limits
// give the same output whether the page comes in one write or in many.
func TestMaxHoldLimitsIgnoreWriteBoundaries(t *testing.T) {
	filler := strings.Repeat("<i>x</i>", maxHold/8+4)
	pages := []string{
		"<html></html>" + filler + "</body>",                      // </body> too long after </html>
		"<html></html><p></body>",                                 // </body> soon after </html>
		filler + "<!DOCTYPE html><p>x",                            // a document sign past maxHold: a fragment
		"<p>" + strings.Repeat("x", maxHold-20) + "<html></body>", // a sign just within maxHold
		"<body></body a='" + filler + "'>",                        // a long </body> tag
	}
	for _, p := range pages {
		for _, pending := range []bool{false, true} {
			one := run(p, pending, len(p))
			for _, size := range []int{1, 7, 100, 4096} {
				if got := run(p, pending, size); got != one {
					t.Errorf("pending=%v, page %.40q…: writes of %d give %.60q…, one write gives %.60q…", pending, p, size, got, one)
				}
			}
		}
	}
}

// run feeds page to an injector in writes of size and returns the output.
func run(page string, pending bool, size int) string {
	var out bytes.Buffer
	j := newInjector(&out, []byte(testSnippet))
	if pending {
		j.Reset(&out, &recordingDecider{snippet: []byte(testSnippet)}, EncodingUTF8)
	}
	for i := 0; i < len(page); i += size {
		j.Write([]byte(page[i:min(i+size, len(page))]))
	}
	j.Close()
	return out.String()
}

// TestHoldStaysBounded writes a 1 MiB fragment and a 1 MiB tail after
// </html> in single writes: nothing of them is copied into the hold buffer.
func TestHoldStaysBounded(t *testing.T) {
	big := bytes.Repeat([]byte("<li>x</li>"), 1<<17)
	for _, tc := range []struct {
		name string
		page []byte
	}{
		{"fragment", big},
		{"after html", append([]byte("<html><body>x</html>"), big...)},
	} {
		name, page := tc.name, tc.page
		for _, pending := range []bool{false, true} {
			j := newInjector(io.Discard, []byte(testSnippet))
			if pending {
				j.Reset(io.Discard, &recordingDecider{snippet: []byte(testSnippet)}, EncodingUTF8)
			}
			j.Write(page)
			if c := cap(j.hold); c > maxHold {
				t.Errorf("%s, pending=%v: hold buffer grew to %d bytes", name, pending, c)
			}
		}
	}
}
