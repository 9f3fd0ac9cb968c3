package chatwidget

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// mobileTemplate is the vendor's mobile URL template, cut where its
// components begin so that each placeholder is escaped for where it stands.
type mobileTemplate struct {
	src                   string
	queryStart, fragStart int // offsets of "?" and "#"; len(src) if absent
}

// WithMobileURLTemplate sets the vendor's URL template for mobile apps, with
// the placeholders WIDGET_ID and JWT_TOKEN, e.g.
// "https://chat.example/mobile/WIDGET_ID?token=JWT_TOKEN". See
// [Middleware.MobileURL] and [Middleware.MobileHandler]. Default: none.
func WithMobileURLTemplate(tpl string) Option {
	return func(c *config) { c.mobile = tpl }
}

func compileMobile(tpl string) (*mobileTemplate, error) {
	if tpl == "" {
		return nil, nil
	}
	u, err := url.Parse(strings.NewReplacer(widgetIDPlaceholder, "w", tokenPlaceholder, "t").Replace(tpl))
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("chatwidget: mobile URL template %q is not an absolute URL; paste the one from the vendor's settings", truncate(tpl, 60))
	}
	if !strings.Contains(tpl, tokenPlaceholder) {
		return nil, errors.New("chatwidget: mobile URL template has no JWT_TOKEN placeholder; paste the one from the vendor's settings")
	}
	t := &mobileTemplate{src: tpl, queryStart: len(tpl), fragStart: len(tpl)}
	if i := strings.IndexByte(tpl, '#'); i >= 0 {
		t.fragStart = i
	}
	if i := strings.IndexByte(tpl[:t.fragStart], '?'); i >= 0 {
		t.queryStart = i
	}
	if scheme := tpl[:strings.IndexByte(tpl, ':')]; strings.Contains(scheme, tokenPlaceholder) || strings.Contains(scheme, widgetIDPlaceholder) {
		return nil, errors.New("chatwidget: mobile URL template has a placeholder in its scheme")
	}
	return t, nil
}

// build substitutes the placeholders, each escaped for its component.
func (t *mobileTemplate) build(widgetID, token string) string {
	var b strings.Builder
	src := t.src
	for i := 0; i < len(src); {
		var ph, val string
		switch {
		case strings.HasPrefix(src[i:], widgetIDPlaceholder):
			ph, val = widgetIDPlaceholder, widgetID
		case strings.HasPrefix(src[i:], tokenPlaceholder):
			ph, val = tokenPlaceholder, token
		default:
			b.WriteByte(src[i])
			i++
			continue
		}
		if i < t.queryStart {
			b.WriteString(url.PathEscape(val))
		} else {
			b.WriteString(url.QueryEscape(val))
		}
		i += len(ph)
	}
	return b.String()
}

// MobileURL returns the vendor's mobile URL for v, from the template given
// with [WithMobileURLTemplate], with the widget ID and v's token each
// escaped for the part of the URL where it stands.
func (m *Middleware) MobileURL(v *Visitor) (string, error) {
	if m.mobile == nil {
		return "", errors.New("chatwidget: no mobile URL template; pass WithMobileURLTemplate to New")
	}
	tok, _, err := m.Token(v)
	if err != nil {
		return "", err
	}
	return m.mobile.build(m.widgetID, tok), nil
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
		if err != nil {
			m.logger.Error("chatwidget: cannot build the mobile URL", "path", r.URL.Path, "error", err)
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
