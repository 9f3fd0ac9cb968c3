package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestCheckFetchHeaders checks the requests check sends: the page as a
// navigation typed into the address bar, and each -leftalone URL as the page
// would fetch it, cookies and Origin as a browser sends them.
func TestCheckFetchHeaders(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got = make(map[string]http.Header) // path → request headers
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = r.Header.Clone()
		mu.Unlock()
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, pageHead+widgetTag+pageTail)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
	}))
	t.Cleanup(srv.Close)
	// The same server by another name: another site.
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	otherSite := "http://localhost:" + u.Port()

	args := []string{"check", srv.URL + "/", "-cookie", "session=alice", "-cookie", "lang=en",
		"-leftalone", "/api/me", "-leftalone", "/logo.png", "-leftalone", "/app.js", "-leftalone", "/site.css",
		"-leftalone", otherSite + "/cross.json", "-leftalone", otherSite + "/cross.png"}
	// The page has no token for the cookies: exit 1, with every request made.
	cli(t, "", args...).check(t, args, exitFailure, "1 of 10 checks failed")

	const (
		navAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
		cookies   = "session=alice; lang=en"
		absent    = "<absent>"
	)
	tests := []struct {
		path string
		want map[string]string
	}{
		{"/", map[string]string{
			"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none", "Sec-Fetch-User": "?1",
			"Upgrade-Insecure-Requests": "1", "Accept": navAccept, "Cookie": cookies, "Origin": absent,
		}},
		{"/api/me", map[string]string{
			"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-User": absent,
			"Upgrade-Insecure-Requests": absent, "Accept": "*/*", "Cookie": cookies, "Origin": absent,
		}},
		{"/logo.png", map[string]string{"Sec-Fetch-Dest": "image", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "same-origin", "Cookie": cookies}},
		{"/app.js", map[string]string{"Sec-Fetch-Dest": "script", "Sec-Fetch-Mode": "no-cors", "Accept": "*/*"}},
		{"/site.css", map[string]string{"Sec-Fetch-Dest": "style", "Accept": "text/css,*/*;q=0.1"}},
		{"/cross.json", map[string]string{"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "cross-site", "Origin": srv.URL, "Cookie": absent}},
		{"/cross.png", map[string]string{"Sec-Fetch-Dest": "image", "Sec-Fetch-Site": "cross-site", "Origin": absent, "Cookie": absent}},
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tc := range tests {
		h, ok := got[tc.path]
		if !ok {
			t.Errorf("check did not fetch %s", tc.path)
			continue
		}
		if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "Mozilla/5.0 ") {
			t.Errorf("%s: User-Agent = %q, want a browser's", tc.path, ua)
		}
		for k, want := range tc.want {
			v, present := h[k]
			switch {
			case want == absent && present:
				t.Errorf("%s: %s = %q, want none", tc.path, k, v)
			case want != absent && h.Get(k) != want:
				t.Errorf("%s: %s = %q, want %q", tc.path, k, v, want)
			}
		}
	}
}

func TestDestinationOf(t *testing.T) {
	tests := []struct {
		url  string
		want destination
	}{
		{"https://a.example/api/me", destEmpty},
		{"https://a.example/data.json", destEmpty},
		{"https://a.example/img/logo.PNG", destImage},
		{"https://a.example/favicon.ico?v=2", destImage},
		{"https://a.example/app.mjs", destScript},
		{"https://a.example/site.css", destStyle},
		{"https://a.example/f.woff2", destFont},
		{"https://a.example/", destEmpty},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := destinationOf(u); got != tc.want {
			t.Errorf("destinationOf(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestFetchSite(t *testing.T) {
	tests := []struct {
		from, to, want string
	}{
		{"https://shop.example.com/", "https://shop.example.com/api", "same-origin"},
		{"https://shop.example.com/", "https://SHOP.example.com/api", "same-origin"},
		{"https://shop.example.com/", "https://cdn.example.com/a.png", "same-site"},
		{"https://shop.example.com/", "http://shop.example.com/a.png", "cross-site"},
		{"https://shop.example.com/", "https://shop.example.com:8443/a", "same-site"},
		{"https://a.github.io/", "https://b.github.io/x", "cross-site"}, // a public suffix
		{"https://shop.example.com/", "https://other.example/x", "cross-site"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/x", "same-origin"},
		{"http://127.0.0.1:8080/", "http://localhost:8080/x", "cross-site"},
	}
	for _, tc := range tests {
		from, err := url.Parse(tc.from)
		if err != nil {
			t.Fatal(err)
		}
		to, err := url.Parse(tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if got := fetchSite(from, to); got != tc.want {
			t.Errorf("fetchSite(%s, %s) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}
