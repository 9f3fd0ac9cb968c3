package chatwidget

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestMakePrivate(t *testing.T) {
	tests := []struct {
		header   []string
		wantCC   string
		wantVary []string
		gone     []string
	}{
		{nil, "private", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "public, max-age=600"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=60, s-maxage=600", "Cache-Control", "public", "Vary", "Accept-Encoding"}, "private, max-age=60", []string{"Accept-Encoding", "Cookie"}, nil},
		{[]string{"Cache-Control", "no-store", "Vary", "cookie"}, "private, no-store", []string{"cookie"}, nil},
		{[]string{"Cache-Control", "private, max-age=0", "Vary", "*"}, "private, max-age=0", []string{"*"}, nil},
		{[]string{"Cache-Control", "PUBLIC,S-MAXAGE=5"}, "private", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", `private="Set-Cookie", max-age=600`}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=bogus, proxy-revalidate"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=60, stale-while-revalidate=86400, stale-if-error=604800, immutable"}, "private, max-age=60", []string{"Cookie"}, nil},
		{[]string{"Cache-Control", "max-age=-5"}, "private, max-age=300", []string{"Cookie"}, nil},
		{[]string{"Cdn-Cache-Control", "max-age=600", "Cloudflare-Cdn-Cache-Control", "max-age=600", "Surrogate-Control", "max-age=600"}, "private", []string{"Cookie"},
			[]string{"Cdn-Cache-Control", "Cloudflare-Cdn-Cache-Control", "Surrogate-Control"}},
		{[]string{"Etag", `W/"v1"`, "Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT", "Expires", "Tue, 03 Jan 2006 15:04:05 GMT"}, "private", []string{"Cookie"},
			[]string{"Etag", "Last-Modified", "Expires"}},
	}
	for _, tc := range tests {
		h := http.Header{}
		for i := 0; i+1 < len(tc.header); i += 2 {
			h.Add(tc.header[i], tc.header[i+1])
		}
		makePrivate(h, 300)
		if got := h.Get("Cache-Control"); got != tc.wantCC {
			t.Errorf("makePrivate(%q) Cache-Control = %q, want %q", tc.header, got, tc.wantCC)
		}
		if got := h.Values("Vary"); fmt.Sprint(got) != fmt.Sprint(tc.wantVary) {
			t.Errorf("makePrivate(%q) Vary = %q, want %q", tc.header, got, tc.wantVary)
		}
		for _, k := range tc.gone {
			if h.Get(k) != "" {
				t.Errorf("makePrivate(%q) kept %s", tc.header, k)
			}
		}
	}
}

// TestAddVary checks that addVary adds only the fields not yet named, in
// any case and across several Vary values, and nothing after "*".
func TestAddVary(t *testing.T) {
	fields := []string{"Sec-Fetch-Dest", "Cookie"}
	tests := []struct {
		have, want []string
	}{
		{nil, []string{"Sec-Fetch-Dest, Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Sec-Fetch-Dest, Cookie"}},
		{[]string{"accept-encoding, COOKIE"}, []string{"accept-encoding, COOKIE", "Sec-Fetch-Dest"}},
		{[]string{"Origin", " sec-fetch-dest ,cookie"}, []string{"Origin", " sec-fetch-dest ,cookie"}},
		{[]string{"Origin, *"}, []string{"Origin, *"}},
		{[]string{",,"}, []string{",,", "Sec-Fetch-Dest, Cookie"}},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.have != nil {
			h["Vary"] = slices.Clone(tc.have)
		}
		addVary(h, fields...)
		if got := h["Vary"]; !slices.Equal(got, tc.want) {
			t.Errorf("addVary(Vary: %q) = %q, want %q", tc.have, got, tc.want)
		}
	}
}
