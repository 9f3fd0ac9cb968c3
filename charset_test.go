package chatwidget

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPrescan(t *testing.T) {
	tests := []struct {
		head  string
		label string // "" for none
	}{
		{`<meta charset="utf-8">`, "utf-8"},
		{`<META CHARSET=ISO-2022-JP>`, "iso-2022-jp"},
		{`<meta charset='shift_jis'/>`, "shift_jis"},
		{`<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">`, "euc-jp"},
		{`<meta content="text/html; charset=euc-jp">`, ""}, // content needs the pragma
		{`<meta content="text/html; charset='koi8-r'" http-equiv=content-type>`, "koi8-r"},
		{`<!-- <meta charset=iso-2022-jp> --><meta charset=utf-8>`, "utf-8"},
		{`<!--><meta charset=iso-2022-jp>`, "iso-2022-jp"},
		{`<p title="<meta charset=iso-2022-jp>"><meta charset=utf-8>`, "utf-8"},
		{`<script>"<meta charset=iso-2022-jp>"</script>`, "iso-2022-jp"}, // the prescan knows no scripts
		{`<meta charset=><meta charset=utf-8>`, "utf-8"},
		{`<meta name=x charset=iso-8859-2 charset=utf-8>`, "iso-8859-2"},
		{`<metax charset=iso-2022-jp>`, ""},
		{`<meta/charset=utf-16le>`, "utf-16le"},
		{`<meta charset=utf-8`, ""}, // ran out of bytes
		{`<p>` + strings.Repeat("x", prescanLen) + `<meta charset=iso-2022-jp>`, ""},
	}
	for _, tc := range tests {
		head := []byte(tc.head)
		label, ok := prescan(head[:min(len(head), prescanLen)])
		if ok != (tc.label != "") || label != tc.label {
			t.Errorf("prescan(%.60q) = %q, %v; want %q", tc.head, label, ok, tc.label)
		}
	}
}

func TestSniffEncoding(t *testing.T) {
	tests := []struct {
		head string
		want encoding
	}{
		{"<!DOCTYPE html><p>x", encUnknown},
		{`<meta charset=utf-8>`, encUTF8},
		{`<meta charset=utf-16>`, encUTF8}, // as the standard says
		{`<meta charset=iso-2022-jp>`, encOther},
		{`<meta charset=windows-1252>`, encOther}, // a page that names another encoding is left as it is
		{`<meta charset=no-such-thing>`, encOther},
		{"\xef\xbb\xbf<meta charset=iso-2022-jp>", encUTF8},
		{"\xff\xfe<\x00h\x00", encOther},
		{"\xfe\xff\x00<\x00h", encOther},
	}
	for _, tc := range tests {
		if got := sniffEncoding([]byte(tc.head)); got != tc.want {
			t.Errorf("sniffEncoding(%q) = %d, want %d", tc.head, got, tc.want)
		}
	}
}

// TestEncodings serves pages in many encodings, declared and undeclared,
// and checks that only those a browser reads as the scanner does get the
// widget, that the others keep their bytes and headers and cost no
// resolver call, and that a page without a charset gets charset=utf-8.
func TestEncodings(t *testing.T) {
	const body = "<!DOCTYPE html><html><head></head><body><p>x</p></body></html>"
	utf16 := "\xff\xfe" + strings.Join(strings.Split(body, ""), "\x00") + "\x00"
	tests := []struct {
		name    string
		types   []string // Content-Type lines; nil: none (sniffed)
		body    string
		widget  bool
		wantCT  string // the Content-Type the browser gets
		refused bool
	}{
		{"utf-8", []string{"text/html; charset=utf-8"}, body, true, "text/html; charset=utf-8", false},
		{"no charset", []string{"text/html"}, body, true, "text/html; charset=utf-8", false},
		{"no charset, meta utf-8", []string{"text/html"}, `<meta charset="utf-8">` + body, true, "text/html; charset=utf-8", false},
		{"sniffed", nil, body, true, "text/html; charset=utf-8", false},
		{"windows-1252", []string{"text/html; charset=windows-1252"}, body, true, "text/html; charset=windows-1252", false},
		{"latin1", []string{"text/html;charset=ISO-8859-1"}, body, true, "text/html;charset=ISO-8859-1", false},
		{"iso-2022-jp", []string{"text/html; charset=iso-2022-jp"}, body, false, "text/html; charset=iso-2022-jp", true},
		{"shift_jis", []string{"text/html; charset=Shift_JIS"}, body, false, "text/html; charset=Shift_JIS", true},
		{"utf-16 declared", []string{"text/html; charset=utf-16le"}, utf16, false, "text/html; charset=utf-16le", true},
		{"no charset, meta iso-2022-jp", []string{"text/html"}, `<meta charset=iso-2022-jp>` + body, false, "text/html", true},
		{"no charset, meta windows-1252", []string{"text/html"}, `<meta charset=windows-1252>` + body, false, "text/html", true},
		{"utf-16 bom, declared utf-8", []string{"text/html; charset=utf-8"}, utf16, false, "text/html; charset=utf-8", true},
		{"utf-8 bom, declared latin1", []string{"text/html; charset=iso-8859-1"}, "\xef\xbb\xbf" + body, true, "text/html; charset=iso-8859-1", false},
		{"last line wins", []string{"text/html; charset=utf-8", "text/html; charset=iso-2022-jp"}, body, false, "text/html; charset=utf-8, text/html; charset=iso-2022-jp", true},
		{"a second value Chromium reads otherwise", []string{"text/html", "text/html (x); charset=iso-2022-jp"}, body, false, "text/html, text/html (x); charset=iso-2022-jp", true},
		{"last value wins", []string{"text/html; charset=utf-8, text/html;charset=iso-2022-jp"}, body, false, "text/html; charset=utf-8, text/html;charset=iso-2022-jp", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			resolver := ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil })
			m := newTest(t, resolver, nil)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.types != nil {
					w.Header()["Content-Type"] = tc.types
				}
				for i := 0; i < len(tc.body); i += 7 { // in small writes: the prescan must gather them
					w.Write([]byte(tc.body[i:min(i+7, len(tc.body))]))
				}
			}))
			rec := serve(h, httptest.NewRequest("GET", "/", nil))
			got := rec.Body.String()
			if has := strings.Contains(got, "data-chatwidget"); has != tc.widget {
				t.Fatalf("widget = %v, want %v: %.120q", has, tc.widget, got)
			}
			if !tc.widget {
				if got != tc.body {
					t.Errorf("body = %.80q, want it untouched", got)
				}
				if calls.Load() != 0 {
					t.Errorf("resolver called %d times for a page that gets no widget", calls.Load())
				}
			}
			if ct := strings.Join(rec.Header()["Content-Type"], ", "); ct != tc.wantCT {
				t.Errorf("Content-Type = %q, want %q", ct, tc.wantCT)
			}
			if n := m.Stats().PagesRefused; n != map[bool]uint64{true: 1}[tc.refused] {
				t.Errorf("Stats().PagesRefused = %d, want refused %v", n, tc.refused)
			}
		})
	}
}

// TestASCIISnippetOnly checks that a page in a single-byte encoding gets
// the widget only when the snippet is ASCII.
func TestASCIISnippetOnly(t *testing.T) {
	m := newTest(t, fixed(alice), nil, WithCustomerDataTemplate(`<script>/* Café */ chat("JWT_TOKEN")</script>`))
	h := m.Handler(htmlHandler(page, "Content-Type", "text/html; charset=windows-1252"))
	if got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); got != page {
		t.Errorf("windows-1252 page with a non-ASCII snippet = %.120q, want it untouched", got)
	}
	h = m.Handler(htmlHandler(page))
	if got := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String(); !strings.Contains(got, "Café") {
		t.Errorf("UTF-8 page = %.120q, want the widget", got)
	}
}

// TestRefusedLoggedAndCounted checks that a page the scanner cannot follow
// gets no widget, one debug record and a count, and that its resolver is
// not called when that is known before the page is known to be a
// document.
func TestRefusedLoggedAndCounted(t *testing.T) {
	logs := &logBuffer{}
	var calls atomic.Int32
	resolver := ResolverFunc(func(*http.Request) (*Visitor, error) { calls.Add(1); return alice, nil })
	m, err := New("test-widget", KeyPEM(testKeyPEM(t)), resolver,
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithEmbedTemplate(`<script src="https://cdn.example/w/WIDGET_ID.js"></script>`))
	if err != nil {
		t.Fatal(err)
	}
	const frameset = `<frameset><xmp><frame src='https://evil.example/?</xmp></body>'>`
	const svg = `<!DOCTYPE html><body><svg><style><a title="</style></body>">`
	for _, body := range []string{frameset, svg} {
		rec := serve(m.Handler(htmlHandler(body)), httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != body {
			t.Errorf("%q → %q, want it untouched", body, rec.Body.String())
		}
	}
	if n := m.Stats().PagesRefused; n != 2 {
		t.Errorf("Stats().PagesRefused = %d, want 2", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("resolver called %d times, want once (for the page with a doctype)", n)
	}
	if n := strings.Count(logs.String(), "level=DEBUG"); n != 2 || !strings.Contains(logs.String(), `reason="a frameset"`) {
		t.Errorf("logs = %q, want one debug record per page, with the reason", logs.String())
	}
	if strings.Contains(logs.String(), "evil.example") {
		t.Errorf("logs hold page content: %q", logs.String())
	}
}
