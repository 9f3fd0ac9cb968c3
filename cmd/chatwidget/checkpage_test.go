package main

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const widgetTag = `<script data-chatwidget async src="https://widget.example/w.js"></script>`

func TestCheckWidget(t *testing.T) {
	tests := []struct {
		name  string
		page  string
		level level
		has   string
	}{
		{"before </body>", `<!doctype html><body><p>x</p>` + widgetTag + `</body>`, levelOK, "found once, at html > body > script (after <p>), with scripting on and off"},
		{"in a div", `<body><div id="chat">` + widgetTag + `</div></body>`, levelOK, "html > body > div#chat > script"},
		{"after </html>, moved into body", `<body><p>x</p></body></html>` + widgetTag, levelOK, "html > body > script (after <p>)"},
		{"none", `<body><p>x</p></body>`, levelFail, "no <script data-chatwidget> in the page"},
		{"in a comment", `<body><!-- ` + widgetTag + ` --></body>`, levelFail, "only as text"},
		{"in a textarea", `<body><textarea>` + widgetTag + `</textarea></body>`, levelFail, "only as text"},
		{"in a title", `<head><title>` + widgetTag + `</title></head>`, levelFail, "only as text"},
		{"twice", `<body>` + widgetTag + widgetTag + `</body>`, levelFail, "found 2 times (html > body > script; html > body > script (after <script>))"},
		{"in a template", `<body><template>` + widgetTag + `</template></body>`, levelFail, "html > body > template > script it is inside <template>, whose content is inert"},
		{"in head", `<head>` + widgetTag + `</head><body></body>`, levelFail, "it is in <head>, not in <body>"},
		{"SVG script", `<body><svg>` + widgetTag + `</svg></body>`, levelFail, "it is an SVG script, in foreign content: move the snippet out of the <svg> element"},
		{"in foreignObject", `<body><svg><foreignObject>` + widgetTag + `</foreignObject></svg></body>`, levelFail, "inside <foreignObject> foreign content: move the snippet out of the <svg> element"},
		{"in MathML mi", `<body><math><mi>` + widgetTag + `</mi></math></body>`, levelFail, "inside <mi> foreign content: move the snippet out of the <math> element"},
		{"in frameset", `<frameset>` + widgetTag + `</frameset>`, levelFail, "only as text"},
		{"in noscript", `<body><noscript>` + widgetTag + `</noscript></body>`, levelFail, "with scripting off, at html > body > noscript > script it is inside <noscript>"},
		// Scripting on: the outer <noscript> is raw text up to the first
		// </noscript>, and the widget is in body. Scripting off: the inner
		// <noscript> takes that end tag, and the widget is in the outer one.
		{"noscript read apart", `<body><noscript><noscript></noscript>` + widgetTag + `</noscript></body>`, levelFail, "with scripting off, at html > body > noscript > script (after <noscript>) it is inside <noscript>"},
		// Scripting off: a comment in <noscript> hides the widget.
		{"hidden with scripting off", `<body><noscript><!--</noscript>` + widgetTag + `--></noscript></body>`, levelFail, "a browser with scripting off reads the page differently (0 widget scripts)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePage([]byte(tc.page))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := checkWidget(p)
			if f.level != tc.level || !strings.Contains(f.msg, tc.has) {
				t.Errorf("checkWidget(%q) = %s %q, want %s with %q", tc.page, f.level, f.msg, tc.level, tc.has)
			}
		})
	}
}

// TestCheckWidgetFirstGood checks that the checks after the widget look
// after the script that runs, not after one in a template before it.
func TestCheckWidgetFirstGood(t *testing.T) {
	page := `<body><template><script data-chatwidget src="https://a.example/t.js"></script><script>done("x")</script></template>` +
		`<script data-chatwidget src="https://a.example/real.js"></script><script>done("y")</script></body>`
	p, err := parsePage([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	_, w := checkWidget(p)
	if w == nil || attr(w, "src") != "https://a.example/real.js" {
		t.Fatalf("checkWidget(%q) looks after %v, want the script of real.js", page, w)
	}
	if n := len(snippetScripts(w)); n != 2 {
		t.Errorf("snippetScripts = %d scripts, want 2", n)
	}
}

func TestFindTokens(t *testing.T) {
	const (
		tok1 = "eyJhbGciOiJSUzI1NiJ9.eyJuYW1lIjoiQSJ9.c2ln"
		tok2 = "eyJhbGciOiJQUzI1NiJ9.eyJuYW1lIjoiQiJ9.c2ln"
		// {"typ":"JWT"}: a header without alg is no JWS.
		noAlg = "eyJ0eXAiOiJKV1QifQ.eyJuYW1lIjoiQSJ9.c2ln"
	)
	tests := []struct {
		name    string
		scripts string
		want    []string
	}{
		{"in text", `<script>done("` + tok1 + `")</script>`, []string{tok1}},
		{"in an attribute", `<script data-jwt="` + tok1 + `"></script>`, []string{tok1}},
		{"two scripts, one token", `<script>a("` + tok1 + `")</script><script>b("` + tok1 + `")</script>`, []string{tok1}},
		{"two tokens", `<script>a("` + tok1 + `","` + tok2 + `")</script>`, []string{tok1, tok2}},
		{"header without alg", `<script>a("` + noAlg + `")</script>`, nil},
		{"not base64 JSON", `<script>a("eyJ.eyJ.x")</script>`, nil},
		{"none", `<script>refresh()</script>`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader("<body>" + tc.scripts))
			if err != nil {
				t.Fatal(err)
			}
			var scripts []*html.Node
			for n := range doc.Descendants() {
				if n.Type == html.ElementNode && n.Data == "script" {
					scripts = append(scripts, n)
				}
			}
			if got := findTokens(scripts); !slices.Equal(got, tc.want) {
				t.Errorf("findTokens(%q) = %q, want %q", tc.scripts, got, tc.want)
			}
		})
	}
}
