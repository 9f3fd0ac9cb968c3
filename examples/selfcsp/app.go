// Selfcsp is an app like many that were not built around net/http
// middleware chains: its handlers compress every response themselves (br,
// zstd, gzip or deflate, by Accept-Encoding), and its page template writes
// its own Content-Security-Policy as a <meta http-equiv> tag whose nonce a
// template function makes while rendering (script-src 'nonce-…'
// 'strict-dynamic', default-src 'none', require-trusted-types-for
// 'script'). There is no compression or CSP middleware to put outside.
//
// The glue it needs for the chat widget is what a user writes for any app,
// a resolver and mw.Handler (see newApp): the middleware decodes each
// compressed page, inserts the widget with the nonce it reads from the
// head's <meta>, and encodes the page again in the handler's coding; the
// JSON and the widget's script pass through untouched. Logged-in pages
// carry chatwidget's refresh script, whose fetch of the token endpoint the
// policy's connect-src 'self' allows; the narrow page's connect-src does
// not, and the middleware leaves the script out there.
//
//	cd examples && go run ./selfcsp
//
// serves it on 127.0.0.1:8090 with a throwaway key; /login?user=alice logs
// in.
package main

import (
	"compress/gzip"
	"compress/zlib"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/klauspost/compress/zstd"
)

// users are the app's accounts, by the value of its "user" cookie.
var users = map[string]*chatwidget.Visitor{
	"alice": {Name: "Alice Example", Email: "alice@example.com", Subject: "u-1001", Fields: map[string]any{"User ID": "u-1001", "Plan": "pro"}},
	"bob":   {Name: "Bob Sample", Subject: "u-2002", Fields: map[string]any{"User ID": "u-2002"}},
}

// site is the app: its routes (mux), and the same wrapped by the
// middleware (handler), which is what it serves.
type site struct {
	mux     *http.ServeMux
	handler http.Handler
	mw      *chatwidget.Middleware
}

// newApp returns the app for a site reached at origin, with the chat
// widget, signing with key and logging to logger.
func newApp(origin string, key *rsa.PrivateKey, logger *slog.Logger) (*site, error) {
	// The glue: who the visitor is, and the wrap.
	resolver := chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		c, err := r.Cookie("user")
		if err != nil {
			return nil, nil // anonymous
		}
		return users[c.Value], nil
	})
	mw, err := chatwidget.New("selfcsp", chatwidget.KeyRSA(key), resolver,
		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(origin, widgetsim.DefaultPrefix)),
		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
		chatwidget.WithAnonymousTemplate(widgetsim.AnonymousTemplate()),
		chatwidget.WithRefresh(widgetsim.RefreshConfig("")), // the middleware's own token endpoint
		chatwidget.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	sim, err := widgetsim.New(mw.PublicKeyPEM())
	if err != nil {
		return nil, err
	}

	// The app as it was.
	mux := http.NewServeMux()
	mux.Handle(widgetsim.DefaultPrefix, sim.Handler())
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("GET /header", headerPolicy)
	mux.HandleFunc("GET /narrow", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, pageData{Title: "Narrow", Connect: origin + widgetsim.DefaultPrefix})
	})
	mux.HandleFunc("GET /hash-only", hashOnly)
	mux.HandleFunc("GET /login", login)
	mux.HandleFunc("GET /api/items", items)
	return &site{mux: mux, handler: mw.Handler(mux), mw: mw}, nil
}

// pageTemplate is the app's page. With no .Nonce, its nonce function
// makes the nonce while the page renders, and the <meta> in the head names
// it; with one, the handler has put the policy in a header.
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"nonce":  newNonce,
	"policy": policy,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{with or .Nonce nonce}}{{if not $.Nonce}}<meta http-equiv="Content-Security-Policy" content="{{policy . $.Connect}}">
{{end}}<title>{{$.Title}}</title>
<script nonce="{{.}}">document.documentElement.dataset.app = "ran";</script>{{end}}
</head>
<body>
<h1>{{.Title}}</h1>
<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
</body>
</html>
`))

// policy returns the app's Content-Security-Policy for pages whose
// scripts carry nonce: nothing else runs, and nothing else loads but what
// the widget and chatwidget's refresh script ask of the page's own origin
// (connect, "" for 'self').
func policy(nonce, connect string) string {
	if connect == "" {
		connect = "'self'"
	}
	return "default-src 'none'; script-src 'nonce-" + nonce + "' 'strict-dynamic'; connect-src " + connect + "; base-uri 'none'; require-trusted-types-for 'script'"
}

// pageData is what the page template shows.
type pageData struct {
	Title string
	Items []string
	Nonce string // the nonce of a policy sent in a header; "": a <meta>
	// Connect is the page's connect-src, "" for 'self'. The narrow page's
	// lets the widget reach its vendor's path alone: chatwidget's refresh
	// script could not fetch the token endpoint there, so the middleware
	// leaves it out (and logs a warning).
	Connect string
}

// render writes the page with data, compressed.
func render(w http.ResponseWriter, r *http.Request, data pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	z := compress(w, r)
	defer z.Close()
	if data.Items == nil {
		data.Items = []string{"Tea <green>", "Coffee & cake"}
	}
	pageTemplate.Execute(z, data)
}

// home is the page whose <meta> holds the policy.
func home(w http.ResponseWriter, r *http.Request) { render(w, r, pageData{Title: "Shop"}) }

// headerPolicy is the page with the policy in a header.
func headerPolicy(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	w.Header().Set("Content-Security-Policy", policy(nonce, ""))
	render(w, r, pageData{Title: "Header", Nonce: nonce})
}

// hashOnlyScript is the one script the hash-only page allows.
const hashOnlyScript = `document.documentElement.dataset.app = "ran";`

// hashOnly is a page whose policy allows its own script by hash alone: the
// middleware cannot make its scripts run there, so it inserts none (and
// logs a warning that says what the policy needs).
func hashOnly(w http.ResponseWriter, r *http.Request) {
	sum := sha256.Sum256([]byte(hashOnlyScript))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	z := compress(w, r)
	defer z.Close()
	fmt.Fprintf(z, `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-%s'"><title>Hash</title><script>%s</script></head><body><h1>Hash only</h1></body></html>`,
		base64.StdEncoding.EncodeToString(sum[:]), hashOnlyScript)
}

// newNonce returns 128 random bits, base64-encoded (with + and /, which
// html/template escapes in the attribute).
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails
	return base64.StdEncoding.EncodeToString(b)
}

// items answers JSON, compressed.
func items(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	z := compress(w, r)
	defer z.Close()
	json.NewEncoder(z).Encode(map[string]any{"items": []string{"</body>", "tea"}})
}

// login sets the user cookie and goes home.
func login(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: "user", Value: r.URL.Query().Get("user"), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// compress returns a writer that compresses to w in the best coding the
// request accepts (?enc= chooses one, or identity for none, for tests),
// having set the headers.
func compress(w http.ResponseWriter, r *http.Request) io.WriteCloser {
	w.Header().Add("Vary", "Accept-Encoding")
	enc := r.URL.Query().Get("enc")
	if enc == "" {
		accept := r.Header.Get("Accept-Encoding")
		for _, c := range []string{"br", "zstd", "gzip", "deflate"} {
			if strings.Contains(accept, c) {
				enc = c
				break
			}
		}
	}
	var z io.WriteCloser
	switch enc {
	case "br":
		z = brotli.NewWriterLevel(w, 5)
	case "zstd":
		z, _ = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	case "gzip":
		z = gzip.NewWriter(w)
	case "deflate":
		z = zlib.NewWriter(w)
	default:
		return nopCloser{w}
	}
	w.Header().Set("Content-Encoding", enc)
	return z
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func main() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	const addr = "127.0.0.1:8090"
	s, err := newApp("http://"+addr, key, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("selfcsp: http://" + addr + "/ (log in: /login?user=alice)")
	log.Fatal(http.ListenAndServe(addr, s.handler))
}
