package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// markerAttr marks the first script of the widget, as the middleware and
// Middleware.Snippet write it.
const markerAttr = "data-chatwidget"

// A parsedPage is a page as a browser's HTML parser builds it, with
// scripting on (how browsers read it) and off (how the middleware must
// also be right about it: it reads <noscript> alike in both modes).
type parsedPage struct {
	raw     []byte
	on, off *html.Node
}

func parsePage(b []byte) (*parsedPage, error) {
	on, err := html.ParseWithOptions(bytes.NewReader(b), html.ParseOptionEnableScripting(true))
	if err != nil {
		return nil, err
	}
	off, err := html.ParseWithOptions(bytes.NewReader(b), html.ParseOptionEnableScripting(false))
	if err != nil {
		return nil, err
	}
	return &parsedPage{raw: b, on: on, off: off}, nil
}

// A widgetScript is a <script data-chatwidget> element in one parse of the
// page.
type widgetScript struct {
	n       *html.Node
	where   string // its path from <html>, e.g. "html > body > div#app > script (after <p>)"
	problem string // why a browser does not run it where the widget belongs; "" if it does
}

// findWidgets returns the <script data-chatwidget> elements of doc, in
// document order, each with where it is and what is wrong with that place.
// Template contents count (x/net/html keeps them as children of the
// template element), and so do SVG and MathML scripts.
func findWidgets(doc *html.Node) []widgetScript {
	var ws []widgetScript
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "script" && hasAttr(n, markerAttr) {
			ws = append(ws, widgetScript{n: n, where: nodePath(n) + after(n), problem: placeProblem(n)})
		}
	}
	return ws
}

// placeProblem says why a browser would not run the script n as the widget
// in the page's body, or "" if it would.
func placeProblem(n *html.Node) string {
	if n.Namespace != "" {
		return fmt.Sprintf("it is an %s script, in foreign content: move the snippet out of the <%s> element", strings.ToUpper(n.Namespace), foreignRoot(n))
	}
	inBody := false
	for a := range n.Ancestors() {
		if a.Type != html.ElementNode {
			continue
		}
		switch {
		case a.Namespace != "":
			return fmt.Sprintf("it is inside <%s> foreign content: move the snippet out of the <%s> element", a.Data, foreignRoot(a))
		case a.DataAtom == atom.Template:
			return "it is inside <template>, whose content is inert: its scripts never run; move the snippet out of the template"
		case a.DataAtom == atom.Noscript:
			return "it is inside <noscript>, whose content browsers with scripting on read as text, and those with scripting off do not run: move the snippet out of the <noscript> (and close every <noscript> before it)"
		case a.DataAtom == atom.Head:
			return "it is in <head>, not in <body>: place it before </body>"
		case a.DataAtom == atom.Body:
			inBody = true
		}
	}
	if !inBody {
		return "it is not in <body> (a <frameset> page has none)"
	}
	return ""
}

// foreignRoot names the outermost svg or math element around n.
func foreignRoot(n *html.Node) string {
	root := n.Data
	for a := range n.Ancestors() {
		if a.Type == html.ElementNode && a.Namespace != "" {
			root = a.Data
		}
	}
	return root
}

// nodePath is the path of element n from the root, with ids:
// "html > body > div#app > script".
func nodePath(n *html.Node) string {
	var parts []string
	for e := n; e != nil; e = e.Parent {
		if e.Type != html.ElementNode {
			continue
		}
		p := e.Data
		if id := attr(e, "id"); id != "" {
			p += "#" + id
		}
		parts = append(parts, p)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " > ")
}

// after says which element precedes n, if any: " (after <footer>)".
func after(n *html.Node) string {
	for s := n.PrevSibling; s != nil; s = s.PrevSibling {
		if s.Type == html.ElementNode {
			return " (after <" + s.Data + ">)"
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// snippetScripts returns the scripts of the widget's snippet: the widget's
// script w and the HTML script elements after it among its siblings (the
// customer-data code, the refresh script), which the middleware inserts
// together before </body>.
func snippetScripts(w *html.Node) []*html.Node {
	scripts := []*html.Node{w}
	for s := w.NextSibling; s != nil; s = s.NextSibling {
		if s.Type == html.ElementNode && s.DataAtom == atom.Script && s.Namespace == "" {
			scripts = append(scripts, s)
		}
	}
	return scripts
}

// jwtPattern finds a compact JWS whose header and payload are JSON objects
// (base64url of `{"` is "eyJ").
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`)

// findTokens returns the distinct JWTs in the text and attributes of
// scripts, in order.
func findTokens(scripts []*html.Node) []string {
	var toks []string
	add := func(s string) {
		for _, t := range jwtPattern.FindAllString(s, -1) {
			if isJWT(t) && !slices.Contains(toks, t) {
				toks = append(toks, t)
			}
		}
	}
	for _, s := range scripts {
		for _, a := range s.Attr {
			add(a.Val)
		}
		add(scriptText(s))
	}
	return toks
}

// isJWT reports whether tok's header decodes to a JSON object with an alg.
func isJWT(tok string) bool {
	h, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(h, &header) == nil && header.Alg != ""
}

// scriptText is the text of a script element.
func scriptText(s *html.Node) string {
	var b strings.Builder
	for c := s.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}
