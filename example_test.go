package chatwidget_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/gob"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/chatwidget/chatwidget"
	"github.com/gorilla/sessions"
)

// key stands in for the site's private.pem.
var key, _ = rsa.GenerateKey(rand.Reader, 2048)

// This example wraps a site's mux. A page for a logged-in visitor gets the
// embed code and the customer-data code, with the visitor's signed token,
// right before </body>.
func ExampleNew() {
	resolver := chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		return &chatwidget.Visitor{
			Name:   "Alice Example",
			Email:  "alice@example.com",
			Fields: map[string]any{"User ID": "u-1001"},
		}, nil
	})
	mw, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key), resolver,
		chatwidget.WithEmbedTemplate(`<script async src="https://chat.example/WIDGET_ID.js"></script>`),
		chatwidget.WithCustomerDataTemplate(`<script>Chat.identify("JWT_TOKEN")</script>`))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body><h1>Shop</h1></body></html>")
	})

	rec := httptest.NewRecorder()
	mw.Handler(mux).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	token := body[strings.Index(body, `identify("`)+10 : strings.LastIndex(body, `")`)]
	fmt.Println(strings.Replace(body, token, "<token>", 1))
	fmt.Println(rec.Header().Get("Cache-Control"))
	fmt.Println(strings.Join(rec.Header().Values("Vary"), ", "))
	// Output:
	// <html><body><h1>Shop</h1><script data-chatwidget="" async src="https://chat.example/my-widget.js"></script><script>Chat.identify("<token>")</script></body></html>
	// private
	// Sec-Fetch-Dest, Sec-Purpose, Purpose, Hx-Request, Turbo-Frame, Cookie
}

// This example reads the visitor from a gorilla/sessions session that the
// site's login handler filled in.
func ExampleSessionResolver() {
	store := sessions.NewCookieStore([]byte("32-byte-long-auth-key-for-demo!!"))
	resolver := chatwidget.SessionResolver(store, "session", chatwidget.SessionKeys{
		Name:   "name",
		Email:  "email",
		Fields: map[string]string{"User ID": "uid", "Telephone": "phone"},
	})
	_, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key), resolver)
	fmt.Println(err)
	// Output: <nil>
}

// User is what a site keeps in its session: one gob-encoded value.
type User struct {
	ID    int64
	Name  string
	Email string
}

// This example reads the visitor from a session that holds a struct (a *User
// under "user"), which SessionKeys cannot map. A cookie that does not decode
// is anonymous, and the middleware logs the error at debug level only.
func ExampleSessionResolverFunc() {
	gob.Register(&User{}) // as the site's own session code does, for gorilla/sessions to encode it
	store := sessions.NewCookieStore([]byte("32-byte-long-auth-key-for-demo!!"))
	resolver := chatwidget.SessionResolverFunc(store, "session", func(_ *http.Request, s *sessions.Session) (*chatwidget.Visitor, error) {
		u, ok := s.Values["user"].(*User)
		if !ok {
			return nil, nil // anonymous
		}
		return &chatwidget.Visitor{Name: u.Name, Email: u.Email, Subject: strconv.FormatInt(u.ID, 10),
			Fields: map[string]any{"User ID": u.ID}}, nil
	})
	if _, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key), resolver); err != nil {
		log.Fatal(err)
	}

	// The site's login handler.
	login := func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session") // a new session if the cookie does not decode
		s.Values["user"] = &User{ID: 1001, Name: "Alice Example", Email: "alice@example.com"}
		if err := s.Save(r, w); err != nil {
			http.Error(w, "cannot save the session", http.StatusInternalServerError)
		}
	}
	rec := httptest.NewRecorder()
	login(rec, httptest.NewRequest("POST", "/login", nil))

	for _, cookie := range []*http.Cookie{rec.Result().Cookies()[0], {Name: "session", Value: "tampered"}} {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(cookie)
		v, err := resolver.Resolve(req)
		if v != nil {
			fmt.Printf("%+v\n", *v)
		}
		fmt.Println(err)
	}
	// Output:
	// {Name:Alice Example Email:alice@example.com Subject:1001 Fields:map[User ID:1001]}
	// <nil>
	// session "session": cookie cannot be decoded: securecookie: the value is not valid
}

// New reports every configuration problem at once, each with what to do.
func ExampleNew_errors() {
	_, err := chatwidget.New("my widget!", chatwidget.KeyPEM([]byte("not a key")), nil)
	fmt.Println(err)
	// Output:
	// chatwidget: widget ID "my widget!" is not valid; copy it from the vendor's settings (1 to 128 characters of A-Z a-z 0-9 - _)
	// chatwidget: resolver is nil; pass a Resolver, a ResolverFunc or SessionResolver(store, name, keys)
	// chatwidget: key holds no PEM block; pass the contents of private.pem, the file that begins with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- (generate one with `openssl genrsa -out private.pem 2048`)
}

type nonceKey struct{}

// This example reads the CSP nonce that the site's CSP middleware put in the
// request context, so that both inserted scripts may run under
// script-src 'nonce-…'.
func ExampleWithNonce() {
	mw, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }),
		chatwidget.WithEmbedTemplate(`<script src="https://chat.example/WIDGET_ID.js"></script>`),
		chatwidget.WithNonce(func(r *http.Request) string {
			n, _ := r.Context().Value(nonceKey{}).(string)
			return n
		}))
	if err != nil {
		log.Fatal(err)
	}
	csp := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nonce := "c2VjcmV0LW5vbmNl" // random per request in a real site
			w.Header().Set("Content-Security-Policy", "script-src 'nonce-"+nonce+"'")
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
		})
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<body></body>")
	})
	rec := httptest.NewRecorder()
	csp(mw.Handler(page)).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body)
	// Output: <body><script data-chatwidget="" nonce="c2VjcmV0LW5vbmNl" src="https://chat.example/my-widget.js"></script></body>
}

// This example places the widget in a template by hand; the middleware sees
// the data-chatwidget marker and does not insert a second one.
func ExampleMiddleware_Snippet() {
	mw, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }),
		chatwidget.WithEmbedTemplate(`<script src="https://chat.example/WIDGET_ID.js"></script>`))
	if err != nil {
		log.Fatal(err)
	}
	tmpl := template.Must(template.New("page").Parse(`<body><main>…</main>{{.Chat}}</body>`))
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		tmpl.Execute(w, map[string]any{"Chat": mw.Snippet(r)})
	})
	rec := httptest.NewRecorder()
	mw.Handler(page).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body)
	// Output: <body><main>…</main><script data-chatwidget="" src="https://chat.example/my-widget.js"></script></body>
}

// This example turns the widget off for one response from the handler.
func ExampleDisable() {
	mw, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }))
	if err != nil {
		log.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chatwidget.Disable(w) // e.g. a print view
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<body>print me</body>")
	})
	rec := httptest.NewRecorder()
	mw.Handler(page).ServeHTTP(rec, httptest.NewRequest("GET", "/print", nil))
	fmt.Println(rec.Body)
	// Output: <body>print me</body>
}

// This example shows why the vendor's code must keep its absolute URLs: the
// snippet goes after markup that may hold a <base href>, which would make a
// relative src load from another host. New says what to write instead.
func ExampleWithEmbedTemplate_relativeURL() {
	_, err := chatwidget.New("my-widget", chatwidget.KeyRSA(key),
		chatwidget.ResolverFunc(func(*http.Request) (*chatwidget.Visitor, error) { return nil, nil }),
		chatwidget.WithEmbedTemplate(`<script src="/chat/WIDGET_ID.js"></script>`))
	fmt.Println(err)
	// Output: chatwidget: embed template: script src "/chat/my-widget.js" is relative, and a <base href> in the page would change where it loads from; write the absolute URL, e.g. "https://example.com/chat/my-widget.js"
}
