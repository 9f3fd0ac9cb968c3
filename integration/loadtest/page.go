package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"

	"github.com/chatwidget/chatwidget"
)

// visitor is the logged-in visitor of every request: a fixed name, e-mail,
// subject and three custom fields, so that every request has the same
// claims and, after the first, takes its token from the middleware's cache.
func visitor(*http.Request) (*chatwidget.Visitor, error) {
	return &chatwidget.Visitor{
		Name:    "Alice Example",
		Email:   "alice@example.com",
		Subject: "u-1001",
		Fields: map[string]any{
			"Plan":     "Pro",
			"Orders":   42,
			"Verified": true,
		},
	}, nil
}

// product is one item of the catalogue page.
type product struct {
	ID      int
	SKU     string
	Name    string
	Desc    string
	Price   string
	InStock bool
}

// pageData fills pageTemplate.
type pageData struct {
	Title    string
	User     string
	Cart     int
	Products []product
	Year     int
}

// catalogue returns the n products of the page, the same on every start.
func catalogue(n int) []product {
	adjectives := []string{"Classic", "Compact", "Deluxe", "Eco", "Heritage", "Nordic", "Studio", "Travel"}
	nouns := []string{"Teapot", "Kettle", "Mug", "Grinder", "Infuser", "Tray", "Caddy", "Whisk", "Cup", "Jar"}
	materials := []string{"stoneware", "glass", "steel", "porcelain"}
	ps := make([]product, n)
	for i := range ps {
		name := adjectives[i%len(adjectives)] + " " + nouns[i%len(nouns)]
		ps[i] = product{
			ID:      1000 + i,
			SKU:     fmt.Sprintf("TW-%04d-%c", 1000+i, 'A'+i%26),
			Name:    name,
			Desc:    fmt.Sprintf("%s, %d ml", materials[i%len(materials)], 150+(i*37)%850),
			Price:   fmt.Sprintf("%d.%02d", 9+(i*13)%90, (i*7)%100),
			InStock: i%7 != 0,
		}
	}
	return ps
}

// pageHandler renders pageTemplate for every request, with the same data.
type pageHandler struct {
	tmpl *template.Template
	data pageData
	bufs sync.Pool // *bytes.Buffer
}

// newPageHandler returns the handler of the catalogue page, of about 30 KB.
func newPageHandler() (*pageHandler, error) {
	tmpl, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse the page template: %w", err)
	}
	return &pageHandler{
		tmpl: tmpl,
		data: pageData{Title: "Tea & Co. · All products", User: "Alice Example", Cart: 3, Products: catalogue(100), Year: 2026},
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}, nil
}

// ServeHTTP executes the template into a buffer first, as most sites do, so
// that a template error is a 500, not half a page, then writes the page.
func (h *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.bufs.Put(buf)
	buf.Reset()
	if err := h.tmpl.Execute(buf, h.data); err != nil {
		slog.ErrorContext(r.Context(), "render page", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// productsHandler serves the catalogue as the JSON of an API, about 11 KB,
// encoded on every request.
func productsHandler(products []product) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(map[string]any{"products": products}); err != nil {
			slog.ErrorContext(r.Context(), "encode products", "err", err)
		}
	})
}

// pageTemplate is a shop's catalogue page: a head with styles and scripts,
// a nav, 100 products with attributes, a footer and scripts at the end.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<meta name="description" content="Teapots, kettles and everything else for tea, shipped in two days.">
<link rel="preconnect" href="https://cdn.example.com">
<link rel="stylesheet" href="https://cdn.example.com/css/site.3f9a1c.css">
<link rel="icon" href="/favicon.ico">
<style>
:root{--ink:#1d1d1f;--muted:#6e6e73;--accent:#0a7d5a;--bg:#fbfbfd}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;border-bottom:1px solid #e5e5ea}
nav ul{display:flex;gap:16px;list-style:none;margin:0;padding:0}nav a{color:var(--ink);text-decoration:none}
nav a:hover,nav a[aria-current]{color:var(--accent)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:20px;padding:24px;list-style:none;margin:0}
.card{background:#fff;border-radius:12px;padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card img{width:100%;height:auto;border-radius:8px}.card h3{font-size:1rem;margin:.5em 0 .25em}
.card .desc{color:var(--muted);font-size:.875rem;min-height:3em}.price{font-weight:600}
.out{opacity:.5}.rating{color:#b07d00;font-size:.8rem}
button{background:var(--accent);color:#fff;border:0;border-radius:8px;padding:6px 12px;cursor:pointer}
footer{padding:32px 24px;color:var(--muted);font-size:.875rem;border-top:1px solid #e5e5ea}
/* </body> in a style sheet is not the end of the body */
</style>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag("js",new Date());</script>
<script async src="https://cdn.example.com/js/analytics.min.js"></script>
</head>
<body>
<header>
<a class="logo" href="/"><img src="/img/logo.svg" alt="Tea &amp; Co." width="120" height="32"></a>
<nav aria-label="Main">
<ul>
<li><a href="/" aria-current="page">Shop</a></li>
<li><a href="/brewing">Brewing</a></li>
<li><a href="/serving">Serving</a></li>
<li><a href="/storage">Storage</a></li>
<li><a href="/journal">Journal</a></li>
<li><a href="/help">Help</a></li>
</ul>
</nav>
<div class="account"><a href="/account">{{.User}}</a> · <a href="/cart" data-count="{{.Cart}}">Cart ({{.Cart}})</a></div>
</header>
<main>
<h1>All products</h1>
<!-- product grid: {{len .Products}} items; a </body> in a comment is not the end either -->
<ul class="grid">
{{range .Products}}<li class="card{{if not .InStock}} out{{end}}" data-id="{{.ID}}" data-price="{{.Price}}">
<a href="/p/{{.ID}}"><img src="/img/{{.SKU}}.webp" alt="{{.Name}}" width="220" height="165" loading="lazy"></a>
<h3>{{.Name}}</h3><p class="desc">{{.Desc}}</p>
<span class="price">€{{.Price}}</span> <button data-id="{{.ID}}"{{if not .InStock}} disabled{{end}}>Add</button>
</li>
{{end}}</ul>
</main>
<footer>
<p>© {{.Year}} Tea &amp; Co. · <a href="/terms">Terms</a> · <a href="/privacy">Privacy</a> · <a href="/contact">Contact</a></p>
<p>Free shipping over €50. Prices include VAT.</p>
</footer>
<script>window.shop={user:{{.User}},cart:{{.Cart}}};</script>
<script>document.querySelectorAll("button[data-id]").forEach(function(b){b.addEventListener("click",function(){fetch("/cart",{method:"POST",body:b.dataset.id})})});var s="</body>";</script>
<script defer src="https://cdn.example.com/js/site.7c21e0.js"></script>
</body>
</html>
`
