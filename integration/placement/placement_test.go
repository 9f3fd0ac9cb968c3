package placement

// TestPlacement loads every page of the corpus in headless Chromium, with
// scripting on and off, and checks where the token went: see doc.go.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds the whole test, the browsers' start included, for a
// corpus of n pages (each loaded in both modes, side by side). A page takes
// about 0.1 s.
func testTimeout(n int) time.Duration { return 30*time.Second + time.Duration(n)*time.Second/2 }

func TestPlacement(t *testing.T) {
	exe := requireBrowser(t, "TestPlacement, the real-browser test of where the snippet goes,")
	start := time.Now()
	hostile := loadHostile(t)
	n, seed := generatedCount(t), generatedSeed(t)
	t.Logf("generated corpus: %d pages, seed %d (CHATWIDGET_PLACEMENT_SEED=%d CHATWIDGET_PLACEMENT_N=%d replays it)", n, seed, seed, n)
	generated := generate(n, seed)
	timeout := testTimeout(len(hostile) + n)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()

	atk := newAttacker(t)
	s := newSite(t, atk, slices.Concat(hostile, generated))
	token, _, err := s.mw.TokenFor(visitor)
	if err != nil {
		t.Fatal(err)
	}

	var res results
	groups := []struct {
		name  string
		pages []*page
	}{{"hostile", hostile}, {"generated", generated}}
	t.Run("modes", func(t *testing.T) {
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) {
				t.Parallel() // one browser per mode, side by side
				b := newBrowser(t, ctx, exe, m)
				b.probe(t, s)
				for _, g := range groups {
					t.Run(g.name, func(t *testing.T) {
						start := time.Now()
						for _, p := range g.pages {
							if ctx.Err() != nil {
								t.Fatalf("the test's %v are up before %s", timeout, p.name)
							}
							t.Run(p.name, func(t *testing.T) {
								res.add(checkPage(t, b, s, atk, p, token))
							})
						}
						t.Logf("%s: %d %s pages in %v", m.name, len(g.pages), g.name, time.Since(start).Round(time.Millisecond))
					})
				}
			})
		}
	})

	// Requests that came after their page was checked (none should).
	reported := res.reported()
	for _, l := range leaks(atk.all(), token) {
		if !reported[l.req.URI] {
			t.Errorf("LEAK, after its page was checked: the attacker received %s", l)
		}
	}
	if logs := s.logs.String(); logs != "" {
		t.Logf("the middleware logged:\n%s", logs)
	}
	res.summarize(t)
	t.Logf("TestPlacement took %v (%d hostile and %d generated pages, twice each)",
		time.Since(start).Round(time.Millisecond), len(hostile), len(generated))
}

// A result is what one page did in one mode.
type result struct {
	mode, page string
	generated  bool
	inserted   bool   // the served body holds the snippet
	ran        string // cwRan
	attacker   int    // requests the attacker received from the page
	failures   []string
	leaked     []string // the URIs of the requests that leaked
}

// results gathers the results of both modes.
type results struct {
	mu  sync.Mutex
	all []result
}

func (rs *results) add(r result) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.all = append(rs.all, r)
}

// reported returns the URIs of the leaking requests already reported.
func (rs *results) reported() map[string]bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	m := map[string]bool{}
	for _, r := range rs.all {
		for _, u := range r.leaked {
			m[u] = true
		}
	}
	return m
}

// summarize logs, per mode, how many pages got the widget and which failed.
func (rs *results) summarize(t *testing.T) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var failed []string
	for _, m := range modes {
		for _, gen := range []bool{false, true} {
			total, inserted, ran, bad, reqs := 0, 0, 0, 0, 0
			for _, r := range rs.all {
				if r.mode != m.name || r.generated != gen {
					continue
				}
				total++
				reqs += r.attacker
				if r.inserted {
					inserted++
				}
				if r.ran == "1" {
					ran++
				}
				if len(r.failures) > 0 {
					bad++
					more := ""
					if len(r.failures) > 1 {
						more = fmt.Sprintf(" (+%d more)", len(r.failures)-1)
					}
					failed = append(failed, fmt.Sprintf("%s/%s: %s%s", r.mode, r.page, r.failures[0], more))
				}
			}
			kind := "hostile"
			if gen {
				kind = "generated"
			}
			t.Logf("%s, %s pages: %d loaded; %d got the widget (%d ran it), %d did not; the attacker received %d requests; %d failed",
				m.name, kind, total, inserted, ran, total-inserted, reqs, bad)
		}
	}
	if len(failed) > 0 {
		t.Logf("%d page loads failed:\n\t%s", len(failed), strings.Join(failed, "\n\t"))
	}
}

// checkPage loads p in b and checks it (see doc.go).
func checkPage(t *testing.T, b *browser, s *site, atk *attacker, p *page, token string) result {
	t.Helper()
	m := b.mode
	r := result{mode: m.name, page: p.name, generated: p.generated}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		r.failures = append(r.failures, msg)
		t.Error(msg)
	}
	v, loadErr := b.load(s.pageURL(m.name, p.name), p, piecesOf(token), atk, m.name)
	if loadErr != nil {
		fail("%v", loadErr)
	}
	body, ok := s.body(m.name, p.name)
	if !ok {
		fail("the site sent no page to the browser")
	}
	for _, tk := range tokensIn(body) {
		if tk != token {
			fail("the page carries token %s, want the visitor's %s", shorten(tk, 40), shorten(token, 40))
		}
	}
	r.inserted = snippetCount(body) > 0
	if c := snippetCount(body); c > 1 {
		fail("the page got the customer-data code %d times, want at most once", c)
	}
	r.ran = v.Ran

	// (a) Nothing of the token reaches the attacker.
	reqs := atk.of(prefix(m.name, p.name))
	r.attacker = len(reqs)
	for _, l := range leaks(reqs, token) {
		r.leaked = append(r.leaked, l.req.URI)
		fail("LEAK: the attacker received %s", l)
	}
	if p.noAttacker && len(reqs) > 0 {
		fail("the page made %d requests to the attacker, want none: %s", len(reqs), requestList(reqs))
	}

	if loadErr == nil {
		checkDOM(fail, v, token)
		checkRan(fail, v, p, m, body, token, r.inserted)
		checkControl(fail, v, p, m, r.inserted)
		if !m.scripting && (v.Ran != "" || v.Embed != "") {
			fail("with scripting off a script ran (cwRan=%q, cwEmbed=%q): the mode is broken", v.Ran, v.Embed)
		}
		if v.Status != 200 {
			fail("status %d, want 200", v.Status)
		}
	}
	if !p.xhtml() {
		checkParsed(fail, body, token, m)
	}

	t.Logf("widget inserted: %v; cwRan=%q cwEmbed=%q; charset %s; the attacker received %d request(s)%s",
		r.inserted, v.Ran, v.Embed, v.Charset, len(reqs), clicked(v))
	if len(r.failures) > 0 {
		if p.generated {
			t.Logf("the generated page (add it to testdata/hostile if it finds a bug):\n%s", p.body)
		}
		t.Logf("served body:\n%s", shorten(string(body), 3000))
		t.Logf("Chromium's DOM:\n%s", shorten(v.OuterHTML, 3000))
		if len(reqs) > 0 {
			t.Logf("the attacker received:\n\t%s", strings.Join(requestLines(reqs), "\n\t"))
		}
	}
	return r
}

// checkDOM is check (b): the token is only the text of HTML scripts outside
// the forbidden elements, and walkJS saw every copy the serialized DOM has.
func checkDOM(fail func(string, ...any), v view, token string) {
	for _, h := range v.badHits() {
		fail("DOM: %s", h)
	}
	pieces := piecesOf(token)
	names := [4]string{"token", "header", "payload", "signature"}
	whole := strings.Count(v.OuterHTML, token)
	for i, piece := range pieces {
		inOuter := strings.Count(v.OuterHTML, piece)
		if i > 0 {
			inOuter -= whole // copies of the part outside whole tokens
		}
		seen := 0
		for _, h := range v.Hits {
			if h.Piece == names[i] {
				seen += h.Count
			}
		}
		if inOuter > seen {
			fail("DOM: the serialized DOM holds the %s %d times, the DOM walk found %d: the walk missed some", names[i], inOuter, seen)
		}
	}
}

// checkParsed is check (b) on x/net/html's tree, in the same scripting mode:
// where Chromium departs from the standard, x/net/html stands in for the
// browsers that follow it (and for those without declarative shadow DOM).
func checkParsed(fail func(string, ...any), body []byte, token string, m mode) {
	bad, err := parsedBadHits(body, token, m.scripting)
	if err != nil {
		fail("html.Parse: %v", err)
	}
	for _, h := range bad {
		fail("X/NET/HTML (scripting %v): %s", m.scripting, h)
	}
}

// checkRan is check (c): where x/net/html's parser puts the customer-data
// script where it runs, Chromium puts it under the same ancestors and, with
// scripting on, runs it. An XHTML page must stay well-formed and run the
// snippet it got.
func checkRan(fail func(string, ...any), v view, p *page, m mode, body []byte, token string, inserted bool) {
	if inserted && m.scripting && (v.Ran == "1") != (v.Embed == "1") {
		fail("the snippet ran only in part: the customer-data code %s, the embed code %s", didRun(v.Ran), didRun(v.Embed))
	}
	if p.xhtml() {
		if v.ParserErrors > 0 {
			fail("XHTML: Chromium shows %d <parsererror>: the page is no longer well-formed", v.ParserErrors)
		}
		if inserted && m.scripting && v.Ran != "1" {
			fail("XHTML: the page got the snippet, but it did not run (cwRan=%q); the token is %s", v.Ran, tokenPlaces(v))
		}
		return
	}
	if !inserted {
		return
	}
	places, err := parsed(body, token, m.scripting)
	if err != nil {
		fail("html.Parse: %v", err)
		return
	}
	i := slices.IndexFunc(places, func(pl placement) bool { return pl.runs })
	if i < 0 {
		return
	}
	want := places[i].chain
	if m.scripting && v.Ran != "1" {
		own := ""
		if !places[i].own {
			own = " (inside the text of one of the page's own scripts)"
		}
		fail("html.Parse puts the customer-data script at %s%s, where it runs, but Chromium did not run it (cwRan=%q); Chromium's DOM has the token %s",
			want, own, v.Ran, tokenPlaces(v))
	}
	if got := v.scripts(); !slices.Contains(got, want) {
		fail("html.Parse (scripting %v) puts the customer-data script at %s, Chromium's DOM has the token %s",
			m.scripting, want, tokenPlaces(v))
	}
}

// checkControl is check (d): a control page gets the widget, which runs,
// and a page marked "@widget: never" gets none.
func checkControl(fail func(string, ...any), v view, p *page, m mode, inserted bool) {
	if p.neverWidget && inserted {
		fail("the page got the widget, and must not")
	}
	if !p.mustWidget {
		return
	}
	switch {
	case !inserted:
		fail("CONTROL: the page did not get the widget")
	case m.scripting && (v.Ran != "1" || v.Embed != "1"):
		fail("CONTROL: the widget did not run (cwRan=%q, cwEmbed=%q); the token is %s", v.Ran, v.Embed, tokenPlaces(v))
	case len(v.scripts()) == 0:
		fail("CONTROL: no HTML <script> in Chromium's DOM holds the token; it is %s", tokenPlaces(v))
	}
}

// tokenPlaces says where the DOM holds the token or its parts.
func tokenPlaces(v view) string {
	if len(v.Hits) == 0 {
		return "nowhere"
	}
	var s []string
	for _, h := range v.Hits {
		w := fmt.Sprintf("at %s (the %s in %s)", orRoot(h.Where), h.Piece, article(h.Kind))
		if !slices.Contains(s, w) {
			s = append(s, w)
		}
	}
	return strings.Join(s, "; ")
}

// clicked reports what the click did, if the page asked for one.
func clicked(v view) string {
	if v.Clicked == "" {
		return ""
	}
	return "; " + v.Clicked
}

// requestList returns the request lines of reqs on one line.
func requestList(reqs []request) string { return strings.Join(requestLines(reqs), ", ") }

// requestLines returns each request's line, percent-decoded for reading.
func requestLines(reqs []request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, fmt.Sprintf("%s %s", r.Method, shorten(unescapedURI(r), 400)))
	}
	return out
}

// didRun says whether a marker was set.
func didRun(marker string) string {
	if marker == "1" {
		return "ran"
	}
	return "did not run"
}
