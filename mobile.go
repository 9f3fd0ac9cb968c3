package chatwidget

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chatwidget/chatwidget/internal/mobileurl"
)

// WithMobileURLTemplate sets the vendor's URL template for mobile apps, with
// the placeholders WIDGET_ID and JWT_TOKEN, e.g.
// "https://chat.example/mobile/WIDGET_ID?token=JWT_TOKEN". Each placeholder
// is escaped for the part of the URL where it stands (path, query,
// fragment; WIDGET_ID also in the host). See [Middleware.MobileURLFor] and
// [Middleware.MobileHandler]. Default: none.
func WithMobileURLTemplate(tpl string) Option {
	return func(c *config) { c.mobile = tpl }
}

// checkMobile checks a mobile URL template for a widget ID at construction.
func checkMobile(tpl, widgetID string) error {
	if tpl == "" {
		return nil
	}
	if _, err := mobileurl.Fill(tpl, widgetID, "e30.e30.c2ln"); err != nil {
		return fmt.Errorf("chatwidget: mobile URL template: %w", err)
	}
	return nil
}

// MobileURLFor returns the vendor's mobile URL for v, from the template given
// with [WithMobileURLTemplate], with the widget ID and v's token each
// escaped for the part of the URL where it stands.
func (m *Middleware) MobileURLFor(v *Visitor) (string, error) {
	if m.mobile == "" {
		return "", errors.New("chatwidget: no mobile URL template; pass WithMobileURLTemplate to New")
	}
	tok, _, err := m.TokenFor(v)
	if err != nil {
		return "", err
	}
	return mobileurl.Fill(m.mobile, m.widgetID, tok)
}

// MobileHandler returns a handler for mobile apps: for a logged-in visitor
// (the same resolver as pages, e.g. the app's session cookie) it redirects
// (302) to the signed mobile URL, or answers {"url":…} as JSON when the
// request accepts application/json or has format=json. An anonymous visitor
// gets 401 {"loggedIn":false}. Responses are Cache-Control: no-store; JSON
// goes only to same-origin requests, as for [Middleware.TokenHandler].
func (m *Middleware) MobileHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, r, http.StatusMethodNotAllowed, tokenResponse{Error: "method not allowed; use GET"})
			return
		}
		wantJSON := r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json")
		if wantJSON && !sameOrigin(r) {
			writeJSON(w, r, http.StatusForbidden, tokenResponse{Error: "cross-origin request refused"})
			return
		}
		v := m.resolve(r)
		if v == nil {
			writeJSON(w, r, http.StatusUnauthorized, tokenResponse{})
			return
		}
		u, err := m.MobileURLFor(v)
		if errors.Is(err, errTokenTooLarge) { // logged as such: served as anonymous
			writeJSON(w, r, http.StatusUnauthorized, tokenResponse{})
			return
		}
		if err != nil {
			m.logs.log(r.Context(), logSignFailed, slog.LevelError, "chatwidget: cannot build the mobile URL", slog.String("path", truncate(r.URL.Path, 200)), errorAttr(err))
			writeJSON(w, r, http.StatusInternalServerError, tokenResponse{Error: "cannot sign the token"})
			return
		}
		if wantJSON {
			writeJSON(w, r, http.StatusOK, struct {
				URL string `json:"url"`
			}{u})
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
}
