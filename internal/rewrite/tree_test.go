package rewrite

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// placementToken is the token of placementSnippet: a string no test page
// holds, so that every place it appears in a parsed page is the snippet's.
const placementToken = "zqTOKENqz"

const placementSnippet = "<script data-chatwidget>" + placementToken + "</script>"

// checkPlacement checks the output of the injector for page against what a
// browser does with it, using x/net/html's parser with scripting on and off
// as the judge:
//  1. out is page, or page with the snippet inserted once before a </body>
//     or </html> end tag or at the end;
//  2. in both parses the snippet's script is an HTML script element outside
//     template contents and foreign content, its text exactly the token;
//  3. the token is nowhere else: no attribute value, text or comment;
//  4. removing the snippet's element gives the tree of page.
//
// It returns whether the snippet went in.
func checkPlacement(t testing.TB, page, out []byte, snippet string) bool {
	t.Helper()
	if bytes.Equal(out, page) {
		return false
	}
	at := insertedAt(page, out, snippet)
	if at < 0 {
		t.Fatalf("Inject(%q) = %q: not the page with the snippet inserted once", page, out)
	}
	if rest := bytes.ToLower(page[at:]); at != len(page) && !bytes.HasPrefix(rest, []byte("</body")) && !bytes.HasPrefix(rest, []byte("</html")) {
		t.Fatalf("Inject(%q) inserted at %d, before %.12q: not a </body>, </html> or the end", page, at, page[at:])
	}
	for _, scripting := range []bool{true, false} {
		doc, err := html.ParseWithOptions(bytes.NewReader(out), html.ParseOptionEnableScripting(scripting))
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		var inserted *html.Node
		walkNodes(doc, func(n *html.Node, ancestors []*html.Node) {
			where := describe(n, ancestors)
			for _, a := range n.Attr {
				if strings.Contains(a.Val, placementToken) || strings.Contains(a.Key, placementToken) {
					found = append(found, "attribute "+a.Key+" of "+where)
				}
			}
			if n.Type == html.ElementNode || !strings.Contains(n.Data, placementToken) {
				return
			}
			p := n.Parent
			if n.Type == html.TextNode && n.Data == placementToken && p != nil && p.Type == html.ElementNode &&
				p.Data == "script" && p.Namespace == "" && runs(ancestors) && inserted == nil {
				inserted = p
				return
			}
			found = append(found, where)
		})
		if inserted == nil && len(found) == 0 && hasElement(doc, "frameset") {
			// A frameset after the insertion point replaced the body, and
			// the snippet with it: no token anywhere.
			continue
		}
		if inserted == nil || len(found) > 0 {
			t.Fatalf("Inject(%q) = %q: with scripting %v, the token is not (only) in a script that runs: %v", page, out, scripting, found)
		}
		inserted.Parent.RemoveChild(inserted)
		orig, err := html.ParseWithOptions(bytes.NewReader(page), html.ParseOptionEnableScripting(scripting))
		if err != nil {
			t.Fatal(err)
		}
		if a, b := render(doc), render(orig); a != b {
			t.Fatalf("Inject(%q) = %q: with scripting %v, the snippet changed the page's tree:\n%s\nwant\n%s", page, out, scripting, a, b)
		}
	}
	return true
}

// insertedAt returns where out is page with snippet inserted, or -1.
func insertedAt(page, out []byte, snippet string) int {
	if len(out) != len(page)+len(snippet) {
		return -1
	}
	same := 0
	for same < len(page) && page[same] == out[same] {
		same++
	}
	for at := same; at >= 0; at-- {
		if string(out[at:at+len(snippet)]) == snippet && bytes.Equal(out[at+len(snippet):], page[at:]) {
			return at
		}
	}
	return -1
}

// runs reports whether a script under ancestors (nearest last) runs: none is
// a template or a foreign element.
func runs(ancestors []*html.Node) bool {
	for _, a := range ancestors {
		if a.Type == html.ElementNode && (a.Namespace != "" || a.Data == "template") {
			return false
		}
	}
	return true
}

func hasElement(doc *html.Node, name string) bool {
	found := false
	walkNodes(doc, func(n *html.Node, _ []*html.Node) {
		found = found || n.Type == html.ElementNode && n.Data == name && n.Namespace == ""
	})
	return found
}

func walkNodes(n *html.Node, f func(n *html.Node, ancestors []*html.Node)) {
	var walk func(n *html.Node, ancestors []*html.Node)
	walk = func(n *html.Node, ancestors []*html.Node) {
		f(n, ancestors)
		ancestors = append(ancestors, n)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, ancestors)
		}
	}
	walk(n, nil)
}

func describe(n *html.Node, ancestors []*html.Node) string {
	var b strings.Builder
	for _, a := range ancestors {
		if a.Type == html.ElementNode {
			b.WriteString(a.Namespace + ":" + a.Data + "/")
		}
	}
	kind := map[html.NodeType]string{html.TextNode: "text", html.CommentNode: "comment", html.DoctypeNode: "doctype", html.ElementNode: "element"}[n.Type]
	return b.String() + kind
}

func render(n *html.Node) string {
	var b bytes.Buffer
	if err := html.Render(&b, n); err != nil {
		return fmt.Sprintf("render: %v", err)
	}
	return b.String()
}

// injectOnce runs page through an injector in one write and returns what it
// wrote and why it gave up, if it did.
func injectOnce(page []byte, snippet string) ([]byte, string) {
	var out bytes.Buffer
	j := newInjector(&out, []byte(snippet))
	j.Write(page)
	j.Close()
	return out.Bytes(), j.refused
}

// hostileCases are pages whose markup would move a snippet placed by the
// tokenizer alone into an attribute, raw text, a comment or somewhere it
// never runs. want is the output: the page untouched where the scanner must
// give up, or the snippet where a browser runs it.
var hostileCases = []struct {
	name, page, want string
}{
	{"svg style hides the end tag in an attribute",
		`<body><svg><style><img src='https://evil.example/?</style></body>'>`, `<body><svg><style><img src='https://evil.example/?</style></body>'>` + placementSnippet},
	{"math title", `<body><math><title><img src='//e/?</title></body>'>`, `<body><math><title><img src='//e/?</title></body>'>` + placementSnippet},
	{"svg textarea", `<body><svg><textarea><a title="</textarea></body>">`, ""},
	{"svg script", `<body><svg><script><a title="</script></body>">`, ""},
	{"svg xmp iframe noembed noframes noscript", `<body><svg><xmp><iframe><noembed><noframes><noscript><a title="</noscript></body>">`, ""},
	{"closed svg with a style", `<body><svg><style>a{}</style></svg></body>`, `<body><svg><style>a{}</style></svg>` + placementSnippet + `</body>`},
	{"svg icon with a title", `<body><a href=/><svg><title>Home</title><path d="M0 0"/></svg></a></body>`, `<body><a href=/><svg><title>Home</title><path d="M0 0"/></svg></a>` + placementSnippet + `</body>`},
	{"svg foreignObject with HTML", `<body><svg><foreignObject><div><style>x</style></div></foreignObject></svg></body>`, `<body><svg><foreignObject><div><style>x</style></div></foreignObject></svg>` + placementSnippet + `</body>`},
	{"svg breakout", `<body><svg><p><style></body></style></body>`, `<body><svg><p><style></body></style>` + placementSnippet + `</body>`},
	{"font breakout needs attributes", `<body><svg><font color=red><style></body></style></body>`, ""},
	{"font without attributes stays foreign", `<body><svg><font><style><a title="</style></body>">`, ""},
	{"unclosed svg", `<body><svg><path></body>`, ""},
	{"svg closed later", `<body><svg></body></svg></body>`, `<body><svg></body></svg>` + placementSnippet + `</body>`},
	{"cdata in svg", `<body><svg><![CDATA[><a title="]]><img src='//e/?"></body>'>`, `<body><svg><![CDATA[><a title="]]><img src='//e/?"></body>'>` + placementSnippet},
	{"cdata in svg, closed", `<body><svg><![CDATA[</body>]]></svg></body>`, `<body><svg><![CDATA[</body>]]></svg>` + placementSnippet + `</body>`},
	{"cdata in HTML is a bogus comment", `<body><![CDATA[x]]></body>`, `<body><![CDATA[x]]>` + placementSnippet + `</body>`},
	{"unclosed template", `<body><template><p>x</body>`, ""},
	{"template in column group mode ignores raw-text tags", `<body><template><col><iframe><a title="</iframe></template></body>">`, ""},
	{"template with a colgroup first", `<body><template><colgroup></colgroup><xmp><a title="</xmp></template></body>">`, ""},
	{"template with a table", `<body><template><table><col></table><xmp></template></xmp></template></body>`, `<body><template><table><col></table><xmp></template></xmp></template>` + placementSnippet + `</body>`},
	{"foreignObject end tag under MathML", `<body><svg><foreignObject><math></foreignObject><title><style><img src='//e/?</style></title></svg></body>'>`, ""},
	{"clippath end tag under SVG", `<body><math><clippath><mi><svg></clippath><style><img src='//e/?</style></svg></math></body>'>`, ""},
	{"camel case end tag under SVG", `<body><svg><clipPath><rect/></clipPath><style>a{}</style></svg></body>`, `<body><svg><clipPath><rect/></clipPath><style>a{}</style></svg>` + placementSnippet + `</body>`},
	{"select end tag in template contents", `<body><select><template></select></template></select></body>`, `<body><select><template></select></template></select>` + placementSnippet + `</body>`},
	{"select end tag in template contents, select left open", `<body><select><template></select></template></body>`, ""},
	{"table end tag through an svg title", `<body><table><svg><title></table></title><![CDATA[><img src='//e/?]]></svg></body>'>`, ""},
	{"cell end tag through a MathML mi", `<body><table><tr><td><math><mi></td><![CDATA[><img src='//e/?]]></math></body>'>`, ""},
	{"table end tag through foreignObject HTML", `<body><table><svg><foreignObject><div></table><![CDATA[><img src='//e/?]]></svg></body>'>`, ""},
	{"hr closes a p in an svg title", `<body><svg><title><p><hr></title><style><img src='//e/?</style></p></title></svg></body>'>`, ""},
	{"hr in a formatting run", `<body><p><b>x<hr><svg><title>t</title><style><a title="</style></body>"></svg>`, ""},
	{"annotation-xml stops an end tag", `<body><b><math><annotation-xml></b><style><img src='//e/?</style></body>'>`, `<body><b><math><annotation-xml></b><style><img src='//e/?</style></body>'>` + placementSnippet},
	{"untracked element between a template and math", `<body><div><template shadowrootmode=open><div><math></div><![CDATA[><img src='//e/?]]></math></template></div></body>'>`, ""},
	{"template end tag on the fast path uncovers an svg title", `<body><svg><title><template><b></b></template></title><style><img src='//e/?</style></title></svg></body>'><p>x</p></body>`, ""},
	{"closed template", `<body><template><svg><style></template></body>`, `<body><template><svg><style></template>` + placementSnippet + `</body>`},
	{"noscript hides an end tag from scripting off", `<body><noscript><a title="</noscript></body>"></noscript>`, ""},
	{"noscript read alike", `<body><noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-X" height="0"></iframe></noscript></body>`, `<body><noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-X" height="0"></iframe></noscript>` + placementSnippet + `</body>`},
	{"noscript opening svg when off", `<body><noscript><svg></noscript><style><a title="</style></body>">`, ""},
	{"select with xmp", `<body><select><xmp></select><img src='//e/?</xmp></body>'>`, ""},
	{"select with style", `<body><select><style></select><img src='//e/?</style></body>'>`, ""},
	{"select closed", `<body><select><option>a</select></body>`, `<body><select><option>a</select>` + placementSnippet + `</body>`},
	{"frameset", `<frameset><xmp><frame src='//e/?</xmp></body>'>`, ""},
	{"script escape departure", `<script><!--<1<script></script><a title="</script><img src='//e/?"></body>'>`, ""},
	{"legacy script idiom", `<body><script><!-- if (a < b) document.write('<script src=x></script>') //--></script></body>`, ""},
	{"escaped script that agrees", `<body><script><!-- if (a < b) x() //--></script></body>`, `<body><script><!-- if (a < b) x() //--></script>` + placementSnippet + `</body>`},
	{"end inside textarea", `<!DOCTYPE html><form action=//e/><button>Continue</button><textarea>`, ""},
	{"end inside title", `<!DOCTYPE html><title>`, ""},
	{"end inside style", `<!DOCTYPE html><style>`, ""},
	{"end inside xmp", `<!DOCTYPE html><xmp>`, ""},
	{"end inside noscript", `<!DOCTYPE html><noscript>`, ""},
	{"end inside iframe", `<!DOCTYPE html><iframe>`, ""},
	{"end inside noembed", `<!DOCTYPE html><noembed>`, ""},
	{"end inside noframes", `<!DOCTYPE html><noframes>`, ""},
	{"end inside plaintext", `<!DOCTYPE html><plaintext>`, ""},
	{"end inside a comment", `<!DOCTYPE html><!-- x`, ""},
	{"end inside svg", `<!DOCTYPE html><svg>`, ""},
	{"end in text", `<!DOCTYPE html><p>x`, `<!DOCTYPE html><p>x` + placementSnippet},
	{"reopened formatting element in an svg title", `<body><p><b>x</p><svg><title>t</title><style><a title="</style></body>"></svg>`, ""},
	{"well nested formatting and an svg title", `<body><p><b>x</b></p><svg><title>t</title><style></style></svg></body>`, `<body><p><b>x</b></p><svg><title>t</title><style></style></svg>` + placementSnippet + `</body>`},
	{"unquoted value ending in a slash", `<body><svg><path d=x/><style><a title="</style></body>">`, ""},
	{"p end tag in svg", `<body><svg></p><style></style></svg></body>`, ""},
	{"end tag in svg closing an untracked element", `<body><div><svg></div><style></style></body>`, ""},
}

func TestHostilePages(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			page := []byte(tc.page)
			want := tc.want
			if want == "" {
				want = tc.page
			}
			got, refused := injectOnce(page, placementSnippet)
			if string(got) != want {
				t.Fatalf("Inject(%q) = %q, want %q (gave up: %q)", page, got, want, refused)
			}
			if want == tc.page && refused == "" && bytes.Contains(page, []byte("</body")) {
				t.Errorf("Inject(%q) gave no reason for leaving the page alone", page)
			}
			checkPlacement(t, page, got, placementSnippet)
			for cut := 0; cut <= len(page); cut++ {
				if got := injectCuts(page, placementSnippet, cut); string(got) != want {
					t.Fatalf("Inject(%q) cut at %d = %q, want %q", page, cut, got, want)
				}
			}
		})
	}
}

// injectCuts runs page through an injector cut into writes at cuts.
func injectCuts(page []byte, snippet string, cuts ...int) []byte {
	var out bytes.Buffer
	j := newInjector(&out, []byte(snippet))
	return feed(j, &out, page, cuts...)
}

// TestTreeExhaustive runs every short sequence of the pieces that steer the
// tree-construction state through the injector, followed by </body></html>,
// and checks each output against x/net/html's parser with scripting on and
// off (checkPlacement), whole and byte by byte.
func TestTreeExhaustive(t *testing.T) {
	pieces := []string{
		"<svg>", "<math>", "</svg>", "<foreignObject>", "<desc>", `<annotation-xml encoding="text/html">`,
		"<mi>", "<template>", "</template>", "<noscript>", "</noscript>", "<select>", "<frameset>",
		"<![CDATA[", "]]>", "<p>", "<b>", "</b>", "<font color=x>", "<style>", "</style>", "<title>",
		"<textarea>", "<xmp>", "<script>", "</script>", `"`, "'", "<a title='", "</body>", "</html>", "x",
	}
	length := 3
	switch {
	case os.Getenv("CHATWIDGET_LONG") != "":
		length = 4 // about 1.1M pages: a minute
	case testing.Short():
		length = 2
	}
	var inserted, total int
	seq := make([]int, 0, length)
	var walk func()
	walk = func() {
		var b strings.Builder
		for _, k := range seq {
			b.WriteString(pieces[k])
		}
		b.WriteString("</body></html>")
		page := []byte(b.String())
		got, _ := injectOnce(page, placementSnippet)
		if checkPlacement(t, page, got, placementSnippet) {
			inserted++
		}
		total++
		bytewise := make([]int, len(page))
		for i := range bytewise {
			bytewise[i] = i
		}
		if again := injectCuts(page, placementSnippet, bytewise...); !bytes.Equal(again, got) {
			t.Fatalf("Inject(%q) byte by byte = %q, whole = %q", page, again, got)
		}
		if len(seq) == length {
			return
		}
		for k := range pieces {
			seq = append(seq, k)
			walk()
			seq = seq[:len(seq)-1]
		}
	}
	walk()
	t.Logf("%d of %d pages got the widget", inserted, total)
	if inserted < total/4 {
		t.Errorf("only %d of %d pages got the widget: the scanner gives up too often", inserted, total)
	}
}
