// Package testpage makes the pages that the library's tests and benchmarks
// stream through the rewriter, in the root package and in internal/rewrite
// alike.
package testpage

import (
	"bytes"
	"fmt"
)

// Realistic returns an HTML page of about size bytes with what real
// pages carry: a head with styles and scripts, comments, nested markup with
// many attributes, inline scripts that hold "<" and "</", and text.
func Realistic(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shop &amp; more</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css?v=123">
<style>body{font:14px/1.4 system-ui}.card>a{color:#333}.x:hover{opacity:.8}</style>
<script>window.dataLayer=window.dataLayer||[];function g(){dataLayer.push(arguments)}if(1<2){g("</div>")}</script>
</head><body class="home page">
<!-- header -->
<header id="top" class="site-header" data-sticky="true"><nav aria-label="main"><ul>`)
	for i := 0; b.Len() < size-600; i++ {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, `<li class="nav-item"><a href="/c/%d" title="Category %d" data-id="%d">Category %d</a></li>`+"\n", i, i, i, i)
		case 1:
			fmt.Fprintf(&b, `<div class="card product" id="p%d" data-price="%d.99" data-json='{"a":"</body>"}'><img src="/img/%d.jpg" alt="Product %d" loading="lazy" width="320" height="240"><h3>Product %d</h3><p>A fine thing, only $%d.99 &ndash; while stocks last.</p></div>`+"\n", i, i, i, i, i, i)
		case 2:
			fmt.Fprintf(&b, "<!-- product %d: </body> is not here -->\n", i)
		case 3:
			fmt.Fprintf(&b, `<script type="application/ld+json">{"@type":"Product","name":"P%d","offers":{"price":"%d"}}</script>`+"\n", i, i)
		case 4:
			fmt.Fprintf(&b, "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. %d</p>\n", i)
		case 5:
			fmt.Fprintf(&b, `<form action="/cart" method="post"><input type="hidden" name="id" value="%d"><button type="submit" class="btn btn-primary" onclick="return a&lt;b">Add</button></form>`+"\n", i)
		}
	}
	b.WriteString(`</ul></nav></header><footer><p>&copy; 2026</p></footer>
<script src="/static/app.js" defer></script>
</body>
</html>
`)
	return b.Bytes()
}
