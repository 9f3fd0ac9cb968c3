// Package mobileurl fills in a live-chat vendor's mobile URL template: the
// placeholders WIDGET_ID and JWT_TOKEN, each escaped for the part of the URL
// where it stands.
package mobileurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The placeholders a template holds.
const (
	widgetIDPlaceholder = "WIDGET_ID"
	tokenPlaceholder    = "JWT_TOKEN"
)

// Check reports what is wrong with template for a typical widget ID, as
// Fill would.
func Check(template string) error {
	if template == "" {
		return errors.New("mobile URL template is empty")
	}
	_, err := Fill(template, "widget", "e30.e30.c2ln")
	return err
}

// Fill fills in the placeholders WIDGET_ID and JWT_TOKEN of template, an
// absolute URL, each escaped for the component it stands in: url.PathEscape
// in the path (or the opaque part), url.QueryEscape in the query, fragment
// escaping in the fragment. WIDGET_ID may also stand in the host when the
// widget ID is a valid host label. The template must hold JWT_TOKEN in one
// of those components; the rest of it is kept as written.
func Fill(template, widgetID, token string) (string, error) {
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
