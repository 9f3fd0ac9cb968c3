package site

import (
	"bytes"
	"context"
	"crypto"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/examples/widgetsim"
	"github.com/gorilla/sessions"
)

// appConfig is what newApp builds the demo site from.
type appConfig struct {
	// Origin is where browsers reach the site, a scheme and a host with an
	// optional port, e.g. "http://127.0.0.1:8080": the widget's embed URL
	// names it, since a relative one would load from wherever a <base
	// href> in a page points. Required; plain http only on a loopback
	// address (chatwidget.New refuses it elsewhere).
	Origin     string
	WidgetID   string
	Key        chatwidget.Key // signs the tokens; chatwidget.New checks it
	SessionKey []byte         // signs the session cookie; empty: 32 random bytes
	Logger     *slog.Logger   // nil: slog.Default()
	// StreamWait waits between the parts of /stream and between the events
	// of /events, and returns an error when the request is cancelled; nil:
	// one second. Tests pass a gate they open themselves.
	StreamWait func(ctx context.Context) error
	// TTL is how long each token is valid (chatwidget.WithTTL); 0:
	// chatwidget.DefaultTTL.
	TTL time.Duration
	// Refresh adds chatwidget's refresh script to logged-in pages, which
	// keeps the token of an open tab fresh through tokenPath
	// (chatwidget.WithRefresh with widgetsim.RefreshConfig).
	Refresh bool
	// SimOptions are more options of the stand-in vendor, e.g.
	// widgetsim.WithSkew; nil: its defaults.
	SimOptions []widgetsim.Option
	// Store keeps the sessions, e.g. in Redis (see openRedisStore), so that
	// several instances share them; nil: a cookie store signed with
	// SessionKey.
	Store sessions.Store
	// Published are public keys the site publishes at jwksPath beside its
	// signing key (chatwidget.WithPublishedKeys): the next key before a
	// rotation, the previous one until its tokens expire.
	Published []crypto.PublicKey
	// Accounts are more users POST /login accepts beside the demo's own,
	// which the login form does not list (a load test's); each needs a
	// Login of its own. Nil: none.
	Accounts []User
}

// A site is the demo site newApp builds.
type site struct {
	Handler   http.Handler // the pages, wrapped by the chatwidget middleware
	PublicKey []byte       // the PEM "PUBLIC KEY" block that verifies the tokens
}

// simPrefix is where the demo mounts the stand-in vendor.
const simPrefix = widgetsim.DefaultPrefix

// tokenPath is where the demo mounts chatwidget's token endpoint, which the
// refresh script fetches.
const tokenPath = "/chatwidget/token"

// jwksPath is where the demo publishes the public keys that verify its
// tokens (chatwidget's JWKSHandler).
const jwksPath = "/.well-known/jwks.json"

// publicCacheControl is what the handler of /public says about caching,
// whoever the visitor: any cache may keep the page for ten minutes. The
// chatwidget middleware turns it private on pages that carry a token.
const publicCacheControl = "public, max-age=600"

// minSessionKey is the shortest CHATWIDGET_SESSION_KEY accepted.
const minSessionKey = 32

// app holds the demo's state; its methods are the handlers.
type app struct {
	users    []User          // the login form's choices
	accounts map[string]User // appConfig.Accounts, by login
	store    sessions.Store
	pages    map[string]*template.Template
	logger   *slog.Logger
}

// newApp returns the demo site: its pages wrapped by the chatwidget
// middleware, which inserts the widget of the stand-in vendor
// ([widgetsim.Sim], mounted at simPrefix) and, for a logged-in visitor, the
// signed token (and, with cfg.Refresh, chatwidget's refresh script, which
// fetches fresh tokens from the token endpoint at tokenPath, mounted in any
// case), every script with the nonce of the strict CSP every response
// carries; and the public key to paste into the vendor's settings.
//
// The Sim's templates depend on the origin and its prefix only, so they
// come first, then the middleware, then the Sim, from the public key the
// middleware says to paste.
func newApp(cfg appConfig) (site, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	store := cfg.Store
	if store == nil {
		cs, err := newSessionStore(cfg.SessionKey)
		if err != nil {
			return site{}, err
		}
		store = cs
	}
	if err := checkOrigin(cfg.Origin); err != nil {
		return site{}, err
	}
	pages, err := parsePages()
	if err != nil {
		return site{}, err
	}
	opts := []chatwidget.Option{
		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(cfg.Origin, simPrefix)),
		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
		chatwidget.WithAnonymousTemplate(widgetsim.AnonymousTemplate()),
		chatwidget.WithNonce(cspNonce),
		chatwidget.WithLogger(logger),
	}
	if cfg.TTL != 0 {
		opts = append(opts, chatwidget.WithTTL(cfg.TTL))
	}
	if cfg.Refresh {
		opts = append(opts, chatwidget.WithRefresh(widgetsim.RefreshConfig(tokenPath)))
	}
	if len(cfg.Published) > 0 {
		opts = append(opts, chatwidget.WithPublishedKeys(cfg.Published...))
	}
	mw, err := chatwidget.New(cfg.WidgetID, cfg.Key,
		chatwidget.SessionResolver(store, sessionName, sessionKeys()), opts...)
	if err != nil {
		return site{}, err
	}
	sim, err := widgetsim.New(mw.PublishedKeysPEM(), append([]widgetsim.Option{widgetsim.WithPrefix(simPrefix)}, cfg.SimOptions...)...)
	if err != nil {
		return site{}, err
	}
	a := &app{users: demoUsers(), store: store, pages: pages, logger: logger}
	if a.accounts, err = accountsByLogin(a.users, cfg.Accounts); err != nil {
		return site{}, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.page("home", "Home"))
	mux.HandleFunc("GET /about", a.page("about", "About"))
	mux.HandleFunc("GET /csp", a.page("csp", "Strict CSP"))
	mux.HandleFunc("GET /public", cacheControl(publicCacheControl, a.page("public", "Public page")))
	// What the middleware leaves alone, and a streamed page it does not hold back.
	la, err := newLeftAlone(cfg.StreamWait, logger)
	if err != nil {
		return site{}, err
	}
	la.register(mux)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /api/me", a.me)
	// The visitor's token as JSON, for the refresh script (and any page
	// that fetches it), is the middleware's own: it answers tokenPath
	// (chatwidget.DefaultEndpoints + "token") before the mux sees it.
	// The keys that verify the tokens, for the vendor and any verifier.
	mux.Handle("GET "+jwksPath, mw.JWKSHandler())
	// The stand-in vendor: its widget script and JSON pass through the
	// middleware untouched.
	mux.Handle(simPrefix, sim.Handler())
	// The CSP goes outside the middleware, which reads its nonce; cross-origin
	// form posts (login CSRF) are refused.
	h := http.NewCrossOriginProtection().Handler(withCSP(mw.Handler(mux)))
	return site{Handler: h, PublicKey: mw.PublicKeyPEM()}, nil
}

//go:embed templates/*.html
var templateFS embed.FS

// parsePages parses each page together with the layout it fills.
func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template)
	for _, name := range []string{"home", "about", "csp", "public"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// pageData is what the page templates are given.
type pageData struct {
	Title string
	User  *User  // nil: anonymous
	Users []User // the login form's choices
	Nonce string // the CSP nonce the page's own scripts carry
	CSP   string // the Content-Security-Policy of the response
}

// currentUser returns the logged-in user of r, or nil. A session cookie that
// cannot be decoded (signed with the key of an earlier run, or tampered with)
// is anonymous, and w deletes it, so that the chatwidget resolver logs its
// error for one page only. A store that fails (Redis down) makes the visitor
// anonymous for this request and keeps the cookie.
func (a *app) currentUser(w http.ResponseWriter, r *http.Request) *User {
	s, err := a.store.Get(r, sessionName)
	if err != nil && !isDecodeError(err) {
		a.logger.Error("demo: read session", "error", err)
		return nil
	}
	if err != nil {
		s.Options.MaxAge = -1
		if err := s.Save(r, w); err != nil {
			a.logger.Error("demo: delete session", "error", err)
		}
		return nil
	}
	login, _ := s.Values["login"].(string)
	return a.user(login)
}

// user returns the demo user called login, or nil: one of a.users, or one
// of a.accounts.
func (a *app) user(login string) *User {
	for i := range a.users {
		if a.users[i].Login == login {
			return &a.users[i]
		}
	}
	if u, ok := a.accounts[login]; ok {
		return &u
	}
	return nil
}

// accountsByLogin returns accounts by their logins, which must be set and
// differ from one another and from those of users.
func accountsByLogin(users, accounts []User) (map[string]User, error) {
	m := make(map[string]User, len(accounts))
	for _, u := range accounts {
		_, taken := m[u.Login]
		if u.Login == "" || taken || slices.ContainsFunc(users, func(d User) bool { return d.Login == u.Login }) {
			return nil, fmt.Errorf("account %q: each account needs a login of its own", u.Login)
		}
		m[u.Login] = u
	}
	return m, nil
}

// cacheControl returns next with its Cache-Control set to cc.
func cacheControl(cc string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		next(w, r)
	}
}

// page returns the handler of the page called name, titled title.
func (a *app) page(name, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := pageData{
			Title: title,
			User:  a.currentUser(w, r),
			Users: a.users,
			Nonce: cspNonce(r),
			CSP:   w.Header().Get(cspHeader),
		}
		var buf bytes.Buffer
		if err := a.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			a.logger.Error("demo: render page", "page", name, "error", err)
			http.Error(w, "cannot render the page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	}
}

// login logs the visitor in as the user chosen in the form, replacing any
// earlier session (under a new ID, with a store that keeps sessions on the
// server), and goes back home.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	u := a.user(r.PostFormValue("user"))
	if u == nil {
		http.Error(w, "no such demo user", http.StatusBadRequest)
		return
	}
	// An error means a stale cookie, or a store that failed; s is then a new
	// session, which replaces it.
	s, _ := a.store.Get(r, sessionName)
	if rn, ok := a.store.(renewer); ok {
		if err := rn.Renew(r, s); err != nil {
			a.logger.Error("demo: renew session", "error", err)
			http.Error(w, "cannot save the session", http.StatusInternalServerError)
			return
		}
	}
	u.saveTo(s)
	if err := s.Save(r, w); err != nil {
		a.logger.Error("demo: save session", "error", err)
		http.Error(w, "cannot save the session", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout deletes the session cookie and goes back home.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s, _ := a.store.Get(r, sessionName)
	clear(s.Values)
	s.Options.MaxAge = -1
	if err := s.Save(r, w); err != nil {
		a.logger.Error("demo: delete session", "error", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// me writes the logged-in user as JSON, which the middleware leaves alone.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	b, err := meJSON(a.currentUser(w, r))
	if err != nil {
		a.logger.Error("demo: encode user", "error", err)
		http.Error(w, "cannot encode the user", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
