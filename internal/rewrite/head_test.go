package rewrite

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// recordingPlacer is a Placer that records what Place is given.
type recordingPlacer struct {
	metas []string
	lost  bool
	calls int
}

func (p *recordingPlacer) Decide(bool) []byte { return []byte("<script>W</script>") }

func (p *recordingPlacer) Place(metas []string, lost bool) []byte {
	p.metas, p.lost = slices.Clone(metas), lost
	p.calls++
	return []byte("<script>W</script>")
}

// TestHeadMetaCSP checks which <meta http-equiv=Content-Security-Policy>
// tags the injector reports at the insertion point: those a browser makes
// children of the head element, with their content decoded, and none from
// the body, a template, a comment or raw text; whatever the write
// boundaries.
func TestHeadMetaCSP(t *testing.T) {
	const csp = `<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-a'">`
	tests := []struct {
		name, page string
		want       []string
	}{
		{"in the head", "<!DOCTYPE html><html><head>" + csp + "</head><body>x</body>", []string{"script-src 'nonce-a'"}},
		{"two", "<head>" + csp + `<META HTTP-EQUIV=content-security-policy CONTENT="default-src &#39;none&#39;">` + "</head><body>x</body>", []string{"script-src 'nonce-a'", "default-src 'none'"}},
		{"after the head", "<head></head> \n" + csp + "<body>x</body>", []string{"script-src 'nonce-a'"}},
		{"other metas", `<head><meta charset="utf-8"><meta name="http-equiv" content="x"><meta http-equiv="refresh" content="5"></head><body>x</body>`, nil},
		{"first attribute counts", `<head><meta http-equiv="Content-Security-Policy" content="a" content="b"></head><body>x</body>`, []string{"a"}},
		{"in the body", "<head></head><body>" + csp + "x</body>", nil},
		{"after text", "<head>x" + csp + "</head><body>x</body>", nil},
		{"after a div", "<head><div>" + csp + "</div></head><body>x</body>", nil},
		{"after </br>", "<head></br>" + csp + "</head><body>x</body>", nil},
		{"in a template", "<head><template>" + csp + "</template></head><body>x</body>", nil},
		{"after a template", "<head><template><p>x</p></template>" + csp + "</head><body>x</body>", []string{"script-src 'nonce-a'"}},
		{"in a comment", "<head><!--" + csp + "--></head><body>x</body>", nil},
		{"in a title", "<head><title>" + csp + "</title></head><body>x</body>", nil},
		{"in a script", "<head><script>'" + csp + "'</script></head><body>x</body>", nil},
		{"in noscript", "<head><noscript>" + csp + "</noscript></head><body>x</body>", nil},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 3, 1 << 20} {
			var out bytes.Buffer
			var p recordingPlacer
			var j Injector
			j.Reset(&out, &p, EncodingUTF8)
			page := []byte(tc.page)
			for i := 0; i < len(page); i += chunk {
				j.Write(page[i:min(i+chunk, len(page))])
			}
			j.Close()
			if p.calls != 1 || !slices.Equal(p.metas, tc.want) || p.lost {
				t.Errorf("%s, writes of %d: Place(%q, %v) called %d times, want Place(%q, false) once", tc.name, chunk, p.metas, p.lost, p.calls, tc.want)
			}
		}
	}
}

// TestHeadMetaCSPLost checks what the injector reports as lost, so that
// the page gets no widget: a <meta> of the head too long to read, and the
// Content-Security-Policy <meta> tags past the first MaxMetaCSP, which it
// does not keep (Place gets the first MaxMetaCSP).
func TestHeadMetaCSPLost(t *testing.T) {
	metas := func(n int, tag string) string { return strings.Repeat(tag, n) }
	const csp = `<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-a'">`
	tests := []struct {
		name  string
		head  string
		metas int // how many policies Place gets
		lost  bool
	}{
		{"a <meta> too long to read", `<meta name="x" content="` + strings.Repeat("a", maxMeta) + `">`, 0, true},
		{"MaxMetaCSP policies", metas(MaxMetaCSP, csp), MaxMetaCSP, false},
		{"one policy more", metas(MaxMetaCSP+1, csp), MaxMetaCSP, true},
		{"many more", metas(10*MaxMetaCSP, csp), MaxMetaCSP, true},
		{"MaxMetaCSP policies among other metas", metas(MaxMetaCSP, csp) + metas(MaxMetaCSP, `<meta name="viewport" content="width=device-width">`), MaxMetaCSP, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p recordingPlacer
			var j Injector
			j.Reset(new(bytes.Buffer), &p, EncodingUTF8)
			j.Write([]byte("<head>" + tc.head + "</head><body>x</body>"))
			j.Close()
			if p.calls != 1 || len(p.metas) != tc.metas || p.lost != tc.lost {
				t.Errorf("Place(%d policies, %v) called %d times, want Place(%d policies, %v) once", len(p.metas), p.lost, p.calls, tc.metas, tc.lost)
			}
		})
	}
}
