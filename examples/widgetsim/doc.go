// Package widgetsim is a local stand-in for a live-chat vendor: it serves the
// widget's JavaScript and verifies, as the vendor would, the RS256 tokens
// that [github.com/chatwidget/chatwidget] puts into the site's pages. The
// demo site mounts it beside its own pages, and a browser test drives it.
//
//	// The templates depend on the site's origin and the prefix only: make
//	// them first, then the Middleware, then the Sim from the public key the
//	// site "pastes" into the vendor's settings. The embed URL is absolute,
//	// so that no <base href> in a page can change where it loads from.
//	origin := "http://127.0.0.1:8080" // where browsers reach the site
//	mw, err := chatwidget.New("demo", chatwidget.KeyFile("private.pem"), resolver,
//		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(origin, widgetsim.DefaultPrefix)),
//		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
//		chatwidget.WithAnonymousTemplate(widgetsim.AnonymousTemplate()))
//	if err != nil {
//		log.Fatal(err)
//	}
//	sim, err := widgetsim.New(mw.PublicKeyPEM())
//	if err != nil {
//		log.Fatal(err) // says what is wrong with the key
//	}
//	mux.Handle(widgetsim.DefaultPrefix, sim.Handler())
//
// A Sim's methods [Sim.EmbedTemplate], [Sim.CustomerDataTemplate] and
// [Sim.AnonymousTemplate] return the same code for its own prefix.
//
// The Sim must be mounted on the site's own origin: its verify endpoint
// sends no CORS headers, and the widget posts to it at location.origin
// (never at a URL relative to the document's base, which a <base href> in
// the page could point at another host).
//
// # Endpoints
//
// Under the prefix (default "/widgetsim/"):
//
//   - GET {prefix}embed/{widgetID}.js serves the widget (text/javascript).
//     A widget ID outside ^[A-Za-z0-9_-]{1,128}$ gets 404.
//   - POST {prefix}verify takes {"widget":"<id>","token":"<jwt>"} and
//     answers 200 {"ok":true,"claims":{…}} with every claim of the token,
//     401 {"ok":false,"error":"<reason>"} for a token the vendor would
//     reject, and 400 {"ok":false,"error":"…"} for a malformed request.
//
// The reasons are: "malformed token", "signature invalid", "unexpected
// signing method", "token expired", "token not valid yet" (nbf),
// "token issued in the future", "missing exp", "missing iat",
// "missing claim name" and "isLoggedIn must be true".
//
// # The widget
//
// The widget adds a fixed panel <section id="cw-panel"> to the page and sets
// its data-state attribute, last, to one of "verified", "remembered",
// "anonymous" or "error":
//
//   - If the page defines window.chatWidgetCustomerData, the widget asks it
//     for the token and posts it to verify. On success it stores the claims
//     in localStorage under "chatwidget:{widgetID}:visitor" and shows them
//     ("verified"); on failure it forgets the stored visitor and shows
//     <p id="cw-error">Identity rejected: {reason}</p> ("error"), and, when
//     the reason is "token expired", calls the page's
//     window.chatWidgetTokenExpired ([ExpiredHook]) if it is a function.
//   - Else, if window.chatWidgetAnonymous is true, it forgets the stored
//     visitor and shows the anonymous form ("anonymous").
//   - Else, if a visitor is stored, it shows that visitor ("remembered"):
//     the stale identity after a logout that the anonymous template exists
//     to prevent.
//   - Else it shows the anonymous form <form id="cw-anon"> ("anonymous").
//
// A visitor is shown as <h2 id="cw-name">Chatting as {name}</h2>, a read-only
// <input id="cw-email"> and a <dl id="cw-fields"> with one <dt>/<dd> pair per
// custom claim, sorted by label. The widget uses DOM APIs, textContent and
// element.style only, so it runs under a strict nonce-based CSP.
//
// # Expiry and fresh tokens
//
// As a real vendor's widget does, it keeps the token it verified last and its
// exp, and asks the verify endpoint again once exp and the Sim's leeway
// ([WithSkew]) have passed, by 250ms: a token nobody replaced then gets
// "error" with "Identity rejected: token expired", and the page's
// [ExpiredHook] is called (with no arguments, from a timer of its own). The
// panel's data-tokens attribute counts the distinct tokens verified so far.
//
// The page talks to the widget through window.ChatWidgetSim, whose functions
// may be called detached:
//
//   - ChatWidgetSim.setToken(token) ([UpdateHook]) verifies token; if the
//     Sim accepts it, the widget shows and stores its visitor, stays
//     "verified" and checks the new token at its exp; if not, it shows the
//     error as above. Of several tokens handed over before the Sim answers,
//     the last counts.
//   - ChatWidgetSim.logout() ([LogoutHook]) drops the token, forgets the
//     stored visitor and shows the anonymous form ("anonymous"). An answer
//     of the Sim still on its way no longer counts.
//
// These are the names chatwidget's refresh script needs ([RefreshConfig]):
//
//	mw, err := chatwidget.New("demo", key, resolver,
//		chatwidget.WithTTL(5*time.Minute),
//		chatwidget.WithEmbedTemplate(widgetsim.EmbedTemplate(origin, widgetsim.DefaultPrefix)),
//		chatwidget.WithCustomerDataTemplate(widgetsim.CustomerDataTemplate()),
//		chatwidget.WithAnonymousTemplate(widgetsim.AnonymousTemplate()),
//		chatwidget.WithRefresh(widgetsim.RefreshConfig("/chatwidget/token")))
//	// …
//	mux.Handle("/chatwidget/token", mw.TokenHandler())
package widgetsim
