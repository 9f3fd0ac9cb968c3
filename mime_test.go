package chatwidget

import (
	"strings"
	"testing"
)

func TestIsHTML(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html", true}, {"text/html; charset=utf-8", true}, {"TEXT/HTML", true},
		{" text/html ;charset=utf-8", true}, {"\ttext/html\t", true}, {"\r\ntext/html\r\n", true},
		{"application/xhtml+xml", false}, // left alone: see TestXHTML
		{"text/htmlx", false}, {"text/plain", false}, {"", false}, {"application/json", false},
		{"text/html-sandboxed", false}, {"text/ html", false}, {"text/html x", false},
		// Only HTTP white space is trimmed, as browsers do: Chromium shows
		// "text/html\v" as text and downloads "text/html\u00a0".
		{"text/html\v", false}, {"text/html\u00a0", false}, {"\u0085text/html", false}, {"text/html\f", false},
	}
	for _, tc := range tests {
		if got := isHTML(tc.ct); got != tc.want {
			t.Errorf("isHTML(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}

// TestExtractMIME checks that the type and charset of a response are read
// from all its Content-Type values, as browsers read them: the last value
// that parses wins, commas split values outside quotes, and a later value
// of the same type without a charset keeps the earlier one's.
func TestExtractMIME(t *testing.T) {
	tests := []struct {
		values           []string
		essence, charset string
		mixed            bool // left alone: the values disagree, or one names a charset not accepted
	}{
		{[]string{"text/html; charset=utf-8"}, "text/html", "utf-8", false},
		{[]string{"text/html; charset=utf-8", "text/html; charset=iso-2022-jp"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/html; charset=utf-8, text/html; charset=iso-2022-jp"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/html; charset=iso-2022-jp", "text/html"}, "text/html", "iso-2022-jp", true},
		{[]string{"text/plain; charset=iso-2022-jp", "text/html"}, "text/html", "", true},
		{[]string{"text/html", "*/*"}, "text/html", "", true},
		{[]string{"text/html", "garbage"}, "text/html", "", true},
		{[]string{`text/html; a="x,y"; charset="utf-8"`}, "text/html", "utf-8", false},
		{[]string{"text/html;charset=;charset=utf-8"}, "text/html", "utf-8", false},
		{[]string{"text/html; CHARSET=Shift_JIS"}, "text/html", "Shift_JIS", true},
		{[]string{"application/json", "text/html"}, "text/html", "", true},
		{[]string{"text/html", "application/json"}, "application/json", "", true},
		{[]string{"text/html; charset=utf-8", "text/html; charset=utf-8"}, "text/html", "utf-8", false},
		// Chromium reads these otherwise than the standard: left alone.
		{[]string{"text/html", "text/html (x); charset=iso-2022-jp"}, "text/html", "", true},
		{[]string{"text/html; charset=utf-8, text/html(x); charset=iso-2022-jp"}, "text/html", "utf-8", true},
		{[]string{"text/html", "application/xhtml+xml (x)"}, "text/html", "", true},
		{[]string{"text/html; charset=utf-8; charset=iso-2022-jp"}, "text/html", "utf-8", true},
	}
	for _, tc := range tests {
		ct := extractMIME(tc.values)
		if !ct.ok || !strings.EqualFold(ct.essence, tc.essence) || ct.charset != tc.charset || ct.mixed != tc.mixed {
			t.Errorf("extractMIME(%q) = %q, %q, mixed %v; want %q, %q, mixed %v", tc.values, ct.essence, ct.charset, ct.mixed, tc.essence, tc.charset, tc.mixed)
		}
	}
}

// isHTML reports whether a Content-Type is an HTML document, as a browser
// reads it.
func isHTML(ct string) bool { return extractMIME([]string{ct}).html() }
