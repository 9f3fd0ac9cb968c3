package chatwidget

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// WithMobileURLTemplate sets the vendor's URL template for mobile apps, with
// the placeholders WIDGET_ID and JWT_TOKEN, e.g.
// "https://chat.example/mobile/WIDGET_ID?token=JWT_TOKEN". Each placeholder
// is escaped for the part of the URL where it stands (path, query,
// fragment; WIDGET_ID also in the host). See [Middleware.MobileURL] and
// [Middleware.MobileHandler]. Default: none.
func WithMobileURLTemplate(tpl string) Option {
	return func(c *config) { c.mobile = tpl }
}

// CheckMobileURLTemplate reports what is wrong with a vendor's mobile URL
// template, as [New] would with [WithMobileURLTemplate], for a typical widget
// ID.
func CheckMobileURLTemplate(tpl string) error {
	if tpl == "" {
		return errors.New("chatwidget: mobile URL template is empty")
	}
	return checkMobile(tpl, "widget")
}

// checkMobile checks a mobile URL template for a widget ID at construction.
func checkMobile(tpl, widgetID string) error {
	if tpl == "" {
		return nil
	}
	if _, err := mobileURL(tpl, widgetID, "e30.e30.c2ln"); err != nil {
		return fmt.Errorf("chatwidget: mobile URL template: %w", err)
	}
	return nil
}

// MobileURL returns the vendor's mobile URL for v, from the template given
// with [WithMobileURLTemplate], with the widget ID and v's token each
// escaped for the part of the URL where it stands.
func (m *Middleware) MobileURL(v *Visitor) (string, error) {
	if m.mobile == "" {
		return "", errors.New("chatwidget: no mobile URL template; pass WithMobileURLTemplate to New")
	}
	tok, _, err := m.Token(v)
	if err != nil {
		return "", err
	}
	return mobileURL(m.mobile, m.widgetID, tok)
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
		u, err := m.MobileURL(v)
		if errors.Is(err, errTokenTooLarge) { // logged as such: served as anonymous
			writeJSON(w, r, http.StatusUnauthorized, tokenResponse{})
			return
		}
		if err != nil {
			m.logs.log(r.Context(), logSignFailed, slog.LevelError, "chatwidget: cannot build the mobile URL", slog.String("path", truncate(r.URL.Path, 200)), slog.Any("error", err))
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

// mobileURL fills in the placeholders WIDGET_ID and JWT_TOKEN of template, an
// absolute URL, each escaped for the component it stands in: url.PathEscape
// in the path (or the opaque part), url.QueryEscape in the query, fragment
// escaping in the fragment. WIDGET_ID may also stand in the host when the
// widget ID is a valid host label. The template must hold JWT_TOKEN in one
// of those components; the rest of it is kept as written.
func mobileURL(template, widgetID, token string) (string, error) {
	if !strings.Contains(template, tokenPlaceholder) {
		return "", errors.New("template has no JWT_TOKEN placeholder; copy the mobile URL from the vendor's settings, e.g. https://chat.example.com/mobile/WIDGET_ID?jwt=JWT_TOKEN")
	}
	u, err := url.Parse(template)
	if err != nil {
		return "", fmt.Errorf("template is not a URL: %w", err)
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("template %q is not an absolute URL; it needs a scheme such as https://", template)
	}
	if u.User != nil && hasPlaceholder(u.User.String()) {
		return "", errors.New("template has a placeholder in its user info; put it in the path, query or fragment")
	}
	if err := fillHost(u, widgetID); err != nil {
		return "", err
	}
	fill := func(s string, escape func(string) string) string {
		return strings.NewReplacer(widgetIDPlaceholder, escape(widgetID), tokenPlaceholder, escape(token)).Replace(s)
	}
	if u.Opaque != "" {
		u.Opaque = fill(u.Opaque, url.PathEscape)
	} else if u.Path, u.RawPath, err = unescaped(fill(u.EscapedPath(), url.PathEscape)); err != nil {
		return "", err
	}
	u.RawQuery = fill(u.RawQuery, url.QueryEscape)
	if u.Fragment, u.RawFragment, err = unescaped(fill(u.EscapedFragment(), fragmentEscape)); err != nil {
		return "", err
	}
	return u.String(), nil
}

func hasPlaceholder(s string) bool {
	return strings.Contains(s, widgetIDPlaceholder) || strings.Contains(s, tokenPlaceholder)
}

// fillHost puts the widget ID in place of WIDGET_ID in u's host. JWT_TOKEN
// cannot stand there.
func fillHost(u *url.URL, widgetID string) error {
	if strings.Contains(u.Host, tokenPlaceholder) {
		return errors.New("template has JWT_TOKEN in its host; put it in the path, query or fragment")
	}
	if !strings.Contains(u.Host, widgetIDPlaceholder) {
		return nil
	}
	if !isHostLabel(widgetID) {
		return fmt.Errorf("widget ID %q cannot stand in a host name", widgetID)
	}
	u.Host = strings.ReplaceAll(u.Host, widgetIDPlaceholder, widgetID)
	return nil
}

// isHostLabel reports whether s may be a label of a host name as url.Parse
// reads it: A-Z a-z 0-9 - _.
func isHostLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// unescaped returns the decoded form of an escaped path or fragment beside the
// escaped form itself, the pair that url.URL keeps.
func unescaped(raw string) (decoded, rawOut string, err error) {
	decoded, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", fmt.Errorf("template: %w", err)
	}
	return decoded, raw, nil
}

// fragmentEscape escapes s for a URL fragment, as url.URL does.
func fragmentEscape(s string) string {
	return (&url.URL{Fragment: s}).EscapedFragment()
}
