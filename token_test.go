package chatwidget

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// members returns the JSON members normalize makes of v, and its cache key.
func members(t testing.TB, s *signer, v *Visitor) (string, string, error) {
	t.Helper()
	m, err := s.normalize(t.Context(), nil, v)
	if err != nil {
		return "", "", err
	}
	return string(m), string(s.cacheKey(nil, m)), nil
}

// wantClaims is what encoding/json makes of v's claims, apart from the
// times: the oracle normalize is held to.
func wantClaims(t testing.TB, v *Visitor) map[string]any {
	t.Helper()
	want := map[string]any{"name": v.Name, "isLoggedIn": true}
	if v.Email != "" {
		want["email"] = v.Email
	}
	if v.Subject != "" {
		want["sub"] = v.Subject
	}
	for k, val := range v.Fields {
		if k == "" || reservedClaims[k] || !utfValid(k) {
			continue
		}
		switch x := val.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
		case float32:
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				continue
			}
		case json.Number:
			if !validJSONNumber(string(x)) {
				continue
			}
			if f, err := x.Float64(); err != nil && math.IsInf(f, 0) {
				continue
			}
		case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		default:
			continue
		}
		want[k] = val
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", want, err)
	}
	return decodeJSON(t, b)
}

func utfValid(s string) bool { return strings.ToValidUTF8(s, "\x00\x00") == s }

func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%q is not JSON: %v", b, err)
	}
	return m
}

// TestNormalizeCollisions puts pairs of visitors that an encoding without
// terminators or kinds would confuse through normalize: numbers next to
// labels that read as digits, strings that hold quotes and commas, bools
// and their strings, empty values, labels that look like encodings. Equal
// keys must mean equal claims, and each key must decode to exactly what
// encoding/json makes of the visitor.
func TestNormalizeCollisions(t *testing.T) {
	s := newTest(t, fixed(nil), nil).signer
	pairs := []struct {
		name string
		a, b *Visitor
	}{
		{"number then digit label", &Visitor{Name: "A", Fields: map[string]any{"a": 1, "b1": 2}}, &Visitor{Name: "A", Fields: map[string]any{"a": 12, "b": 12}}},
		{"number and its string", &Visitor{Name: "A", Fields: map[string]any{"n": 1}}, &Visitor{Name: "A", Fields: map[string]any{"n": "1"}}},
		{"bool and its string", &Visitor{Name: "A", Fields: map[string]any{"b": true}}, &Visitor{Name: "A", Fields: map[string]any{"b": "true"}}},
		{"empty string and no field", &Visitor{Name: "A", Fields: map[string]any{"e": ""}}, &Visitor{Name: "A"}},
		{"empty email and empty subject", &Visitor{Name: "A", Email: "x"}, &Visitor{Name: "A", Subject: "x"}},
		{"name holding the next member", &Visitor{Name: `A","email":"x`}, &Visitor{Name: "A", Email: "x"}},
		{"label holding a member", &Visitor{Name: "A", Fields: map[string]any{`a":"b","c`: "d"}}, &Visitor{Name: "A", Fields: map[string]any{"a": "b", "c": "d"}}},
		{"value holding a member", &Visitor{Name: "A", Fields: map[string]any{"a": `b","c":"d`}}, &Visitor{Name: "A", Fields: map[string]any{"a": "b", "c": "d"}}},
		{"length prefix as label", &Visitor{Name: "A", Fields: map[string]any{"\x01a": "b"}}, &Visitor{Name: "A", Fields: map[string]any{"a": "\x01b"}}},
		{"kind byte as label", &Visitor{Name: "A", Fields: map[string]any{"s": "x", "n1": 1}}, &Visitor{Name: "A", Fields: map[string]any{"s": "xn1", "n": 1}}},
		{"number formats", &Visitor{Name: "A", Fields: map[string]any{"n": json.Number("1.0")}}, &Visitor{Name: "A", Fields: map[string]any{"n": 1}}},
		{"negative zero", &Visitor{Name: "A", Fields: map[string]any{"n": math.Copysign(0, -1)}}, &Visitor{Name: "A", Fields: map[string]any{"n": 0}}},
		{"moved between fields", &Visitor{Name: "A", Fields: map[string]any{"a": "", "b": "x"}}, &Visitor{Name: "A", Fields: map[string]any{"a": "x", "b": ""}}},
		{"one padding byte more", &Visitor{Name: "AB"}, &Visitor{Name: "A"}},
		{"trailing quote", &Visitor{Name: "A", Fields: map[string]any{"k": `v"`}}, &Visitor{Name: "A", Fields: map[string]any{"k": "v"}}},
	}
	for _, tc := range pairs {
		t.Run(tc.name, func(t *testing.T) {
			ma, ka, _ := members(t, s, tc.a)
			mb, kb, _ := members(t, s, tc.b)
			if ka == kb {
				t.Errorf("visitors %+v and %+v share the key %q (members %s and %s)", tc.a, tc.b, ka, ma, mb)
			}
			for _, v := range []*Visitor{tc.a, tc.b} {
				m, _, _ := members(t, s, v)
				if got, want := decodeJSON(t, []byte("{"+m+"}")), wantClaims(t, v); !reflect.DeepEqual(got, want) {
					t.Errorf("normalize(%+v) = %s, want the claims %v", v, m, want)
				}
			}
		})
	}
}

// TestNormalizeProperty normalizes thousands of visitors drawn from pieces
// chosen to collide (every kind of value, labels that look like JSON or
// like the old key encoding, bytes that are not UTF-8) and checks, for
// every pair, that their keys are equal exactly when their claims are.
func TestNormalizeProperty(t *testing.T) {
	s := newTest(t, fixed(nil), nil).signer
	strs := []string{"", "a", "1", "n1", "s", `"`, `a":"b`, `,"x":1`, "\x01", "\x011", "\xff", "\xfe", "\ufffd", "true", "name", "<", `\u003c`}
	vals := []any{1, int64(1), uint8(1), 1.0, 1.5, float32(1.5), 12, json.Number("1"), json.Number("1.0"), json.Number("01"), json.Number("1e400"),
		"1", "", "true", true, false, nil, math.NaN(), "\xff", "\ufffd", `","a":"`, []int{1}}
	r := mrand.New(mrand.NewPCG(1, 2))
	pick := func() string { return strs[r.IntN(len(strs))] }
	byKey := map[string]string{}    // key → canonical claims
	byClaims := map[string]string{} // canonical claims → key
	for range 4000 {
		v := &Visitor{Name: pick() + pick(), Email: pick(), Subject: pick()}
		if n := r.IntN(4); n > 0 {
			v.Fields = map[string]any{}
			for range n {
				v.Fields[pick()+pick()] = vals[r.IntN(len(vals))]
			}
		}
		m, k, err := members(t, s, v)
		if err != nil {
			t.Fatalf("normalize(%+v): %v", v, err)
		}
		got := decodeJSON(t, []byte("{"+m+"}"))
		if want := wantClaims(t, v); !reflect.DeepEqual(got, want) {
			t.Fatalf("normalize(%+v) = %s, want the claims %v", v, m, want)
		}
		canon, _ := json.Marshal(got)
		if c, ok := byKey[k]; ok && c != string(canon) {
			t.Fatalf("key %q stands for both %s and %s", k, c, canon)
		}
		if k2, ok := byClaims[string(canon)]; ok && k2 != k {
			t.Fatalf("claims %s have two keys, %q and %q", canon, k, k2)
		}
		byKey[k], byClaims[string(canon)] = string(canon), k
	}
	if len(byKey) < 1000 {
		t.Errorf("only %d distinct visitors; the generator is too narrow", len(byKey))
	}
}

// TestTokenCarriesItsKey checks that the signed payload is "{", the
// members, then the times: the cache key is the token's own text from the
// dot after the header, and the claims verify with another JWT library.
func TestTokenCarriesItsKey(t *testing.T) {
	m := newTest(t, fixed(nil), nil, WithIssuer("https://shop.example"), WithAudience("a", "b"))
	s := m.signer
	for _, v := range []*Visitor{alice, {Name: "B"}, {Name: "Bo"}, {Name: "Bob", Fields: map[string]any{"x": 1}}} {
		mem, key, _ := members(t, s, v)
		tok, err := s.token(v)
		if err != nil {
			t.Fatal(err)
		}
		off := len(s.header) + 1
		if got := tok.token[off : off+len(key)]; got != key {
			t.Errorf("token %q does not hold its key %q after the header", tok.token, key)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.token, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(payload, []byte("{"+mem+`,"iat":`)) {
			t.Errorf("payload %s does not start with the members %s", payload, mem)
		}
		claims := parseToken(t, tok.token)
		want := wantClaims(t, v)
		for k, w := range want {
			if fmt.Sprint(claims[k]) != fmt.Sprint(w) {
				t.Errorf("claim %q = %v, want %v", k, claims[k], w)
			}
		}
		if claims["iss"] != "https://shop.example" || fmt.Sprint(claims["aud"]) != "[a b]" {
			t.Errorf("iss, aud = %v, %v", claims["iss"], claims["aud"])
		}
	}
}

// TestJSONMatchesEncodingJSON checks our string and number encoders
// against encoding/json, byte for byte.
func TestJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"\`, "<script>&", "\u2028\u2029", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "\xff", "a\xc3", "é€😀", "\ufffd"} {
		want, _ := json.Marshal(validBytes(s))
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, v := range []any{0, -1, math.MaxInt64, uint64(math.MaxUint64), int8(-8), 1.0, math.Copysign(0, -1), 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.123, math.MaxFloat64,
		math.SmallestNonzeroFloat64, float32(1.1), float32(1e21), float32(1e-7), json.Number("-0.5e+10"), true, false} {
		want, _ := json.Marshal(v)
		if got, ok := appendJSONValue(nil, v); !ok || string(got) != string(want) {
			t.Errorf("appendJSONValue(%T %v) = %s, %v; want %s", v, v, got, ok, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), json.Number("0x10"), json.Number("1e400"), json.Number("01"), json.Number("1."),
		json.Number(""), json.Number("+1"), json.Number("Inf"), nil, []string{}, map[string]any{}, struct{}{}} {
		if got, ok := appendJSONValue(nil, v); ok {
			t.Errorf("appendJSONValue(%T %v) = %s, want it refused", v, v, got)
		}
	}
}

// validBytes replaces each byte of s that is not UTF-8 with U+FFFD, as
// encoding/json reads it, and as appendJSONString writes it.
func validBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// FuzzAppendJSONString checks any string against encoding/json, once the
// bytes that are not UTF-8 are replaced.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "<\u2028>", "\xff\xfe", `"\`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(validBytes(s))
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestTokenSize checks the bound of WithMaxTokenSize: a token is never over
// it; a visitor whose fields would take it over loses the fields, and one
// whose name alone does is anonymous; each is logged; and tokenSize is an
// upper bound close to the real size.
func TestTokenSize(t *testing.T) {
	logs := &logBuffer{}
	var v *Visitor
	m := newTest(t, ResolverFunc(func(*http.Request) (*Visitor, error) { return v, nil }), logs, WithMaxTokenSize(2048), WithLogInterval(0))
	h := m.Handler(htmlHandler(page))
	tests := []struct {
		name       string
		v          *Visitor
		wantFields bool
		anonymous  bool
		wantLog    string
	}{
		{"small", &Visitor{Name: "Alice", Fields: map[string]any{"Plan": "Pro"}}, true, false, ""},
		{"fields over the token limit", &Visitor{Name: "Alice", Fields: map[string]any{"Plan": "Pro", "Notes": strings.Repeat("<", 250)}}, false, false, "custom fields dropped: the token would be over"},
		{"name over the limit", &Visitor{Name: strings.Repeat("x", 1<<20), Fields: map[string]any{"Plan": "Pro"}}, false, true, "served as anonymous"},
		{"email over the limit", &Visitor{Name: "Alice", Email: strings.Repeat("é", 1000)}, false, true, "served as anonymous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			v = tc.v
			body := serve(h, httptest.NewRequest("GET", "/", nil)).Body.String()
			if tc.anonymous {
				if strings.Contains(body, "done(") || len(body) > len(page)+200 {
					t.Fatalf("page = %.300q, want the anonymous widget", body)
				}
			} else {
				tok := tokenIn(t, body)
				if len(tok) > 2048 {
					t.Errorf("token is %d bytes, over the limit of 2048", len(tok))
				}
				if claims := parseToken(t, tok); (claims["Plan"] != nil) != tc.wantFields {
					t.Errorf("claims = %v, want fields %v", claims, tc.wantFields)
				}
			}
			if got := logs.String()[before:]; tc.wantLog != "" && (!strings.Contains(got, tc.wantLog) || !strings.Contains(got, "level=WARN")) {
				t.Errorf("log = %q, want a warning with %q", got, tc.wantLog)
			}
			if _, _, err := m.TokenFor(tc.v); (err != nil) != tc.anonymous {
				t.Errorf("Token error = %v, want an error %v", err, tc.anonymous)
			}
		})
	}
	s := m.signer
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 200 {
		v := &Visitor{Name: strings.Repeat("<é", r.IntN(100)), Email: strings.Repeat("a", r.IntN(50)), Fields: map[string]any{"n": r.IntN(1e9), "s": strings.Repeat("\x01", r.IntN(100))}}
		mem, _, err := members(t, s, v)
		if err != nil {
			continue
		}
		tok, err := s.token(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, bound := len(tok.token), s.tokenSize(len(mem)); got > bound || got < bound-10 {
			t.Fatalf("token of %d bytes, tokenSize = %d; want a bound within 10 bytes", got, bound)
		}
	}
}

// TestHitAllocs checks that a cached token costs no allocation.
func TestHitAllocs(t *testing.T) {
	s := newTest(t, fixed(nil), nil).signer
	if _, err := s.token(alice); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := s.token(alice); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a cached token costs %v allocations, want 0", n)
	}
}

// blockingSigner signs with an ECDSA key once release is closed.
type blockingSigner struct {
	crypto.Signer
	release chan struct{}
}

func (b *blockingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	<-b.release
	return b.Signer.Sign(r, digest, opts)
}

// TestSignOnce checks that the concurrent first requests of one visitor
// sign once and all get that token.
func TestSignOnce(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bs := &blockingSigner{Signer: k, release: make(chan struct{})}
	m, err := New("w", KeySigner(bs), fixed(nil), WithAlgorithm(ES256), WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, _, err := m.TokenFor(alice)
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	// Every request has missed the cache before the signature is let go.
	for m.Stats().TokenCacheMisses < n {
		runtime.Gosched()
	}
	close(bs.release)
	wg.Wait()
	if st := m.Stats(); st.TokensSigned != 1 {
		t.Errorf("%d signatures for one visitor's %d first requests, want 1", st.TokensSigned, n)
	}
	for i := range tokens {
		if tokens[i] != tokens[0] {
			t.Fatalf("request %d got another token", i)
		}
	}
}

// TestTokenCacheBounded fills a cache of a few tokens with many: it never
// counts more than its budget, keeps the newest, and counts evictions.
func TestTokenCacheBounded(t *testing.T) {
	const budget = 64 << 10
	c := newTokenCache(budget, 0)
	tok := func(i int) (string, signed) {
		t := fmt.Sprintf("%08d", i) + strings.Repeat("x", 1000)
		return t[:8], signed{token: t}
	}
	for i := range 1000 {
		k, s := tok(i)
		c.put(s, len(k), 100, 0)
		if st := c.stats(); st.TokenCacheBytes > budget {
			t.Fatalf("cache counts %d bytes, over its budget of %d", st.TokenCacheBytes, budget)
		}
	}
	k, _ := tok(999)
	if _, ok := c.get([]byte(k), 1); !ok {
		t.Errorf("newest entry was evicted")
	}
	st := c.stats()
	if st.TokenCacheEntries < 40 || st.TokenCacheEvictions < 900 || st.TokenCacheEntries+st.TokenCacheEvictions != 1000 {
		t.Errorf("stats %+v, want about 50 entries and the rest evicted", st)
	}
	if _, ok := c.get([]byte(k), 100); ok {
		t.Errorf("token handed out after it went stale")
	}
	if st := c.stats(); st.TokenCacheEntries+st.TokenCacheEvictions != 999 {
		t.Errorf("stale token kept: %+v", st)
	}
}

// TestTokenCachePastBudget checks how hits degrade with more visitors than
// the budget holds: a skewed mix over twice as many keeps most of its
// hits, and even a round robin over a tenth more than fit (where a plain
// LRU hits nothing) keeps most.
func TestTokenCachePastBudget(t *testing.T) {
	const fit = 2000 // entries the budget holds
	c := charge(1024)
	tok := func(i int) (string, signed) {
		t := fmt.Sprintf("%08d", i) + strings.Repeat("x", 1016)
		return t[:8], signed{token: t}
	}
	run := func(n int, next func() int) float64 {
		cache := newTokenCache(int(fit*c), 0)
		hits, reqs := 0, 0
		for j := range 40 * fit {
			k, s := tok(next() % n)
			_, ok := cache.get([]byte(k), 1)
			if !ok {
				cache.put(s, len(k), 100, 1)
			}
			if j >= 20*fit {
				reqs++
				if ok {
					hits++
				}
			}
		}
		return float64(hits) / float64(reqs)
	}
	z := mrand.NewZipf(mrand.New(mrand.NewPCG(5, 6)), 1.1, 1, 2*fit-1)
	if h := run(2*fit, func() int { return int(z.Uint64()) }); h < 0.85 {
		t.Errorf("zipf over twice the budget: hit ratio %.3f, want at least 0.85", h)
	}
	i := 0
	if h := run(fit*11/10, func() int { i++; return i }); h < 0.6 {
		t.Errorf("round robin over 1.1 times the budget: hit ratio %.3f, want at least 0.6", h)
	}
	// Within half the budget: the shards share it, and keys spread over
	// them unevenly, so nine tenths of it need not fit in every shard.
	if h := run(fit/2, func() int { i++; return i }); h != 1 {
		t.Errorf("round robin within half the budget: hit ratio %.3f, want 1", h)
	}
}

// TestCacheMemory checks what a cached visitor costs on the heap against
// what the cache counts for it: 20,000 tokens of about 1 KB.
func TestCacheMemory(t *testing.T) {
	const n = 20000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = fmt.Sprintf("%08d", i) + strings.Repeat("x", 950+i%150)
	}
	c := newTokenCache(DefaultTokenCacheBytes, 0) // its sketch is fixed: 4 bytes per 1.2 KB of budget
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range toks {
		tok := strings.Clone(toks[i]) // allocated as the signer allocates it
		c.put(signed{token: tok}, 8, 100, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	st := c.stats()
	counted := float64(st.TokenCacheBytes) / n
	t.Logf("%.0f heap bytes per cached token of about 1025 bytes; the cache counts %.0f", heap, counted)
	if st.TokenCacheEntries != n || heap > counted*1.05 || heap < counted*0.8 {
		t.Errorf("%d entries, %.0f heap bytes each, counted %.0f: want the count within -20%%/+5%% of the heap", st.TokenCacheEntries, heap, counted)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(toks)
}

// TestCacheTakenAsVisitorsCome checks that the default budget of 128 MiB is
// taken only as visitors come: a Middleware made by New holds less than
// 1 MiB, the cache's counters of how often each visitor comes back
// included.
func TestCacheTakenAsVisitorsCome(t *testing.T) {
	key := KeyPEM(testKeyPEM(t))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := New("w", key, fixed(nil))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("New holds %d bytes of heap", n)
	if n > 1<<20 {
		t.Errorf("New holds %d bytes of heap before any visitor, want under 1 MiB of its %d", n, m.Stats().TokenCacheBudget)
	}
	runtime.KeepAlive(m)
}

// TestStatsCount checks the cache's counts through the middleware.
func TestStatsCount(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	bob := &Visitor{Name: "Bob"}
	for _, v := range []*Visitor{alice, alice, bob, alice, bob} {
		if _, _, err := m.TokenFor(v); err != nil {
			t.Fatal(err)
		}
	}
	st := m.Stats()
	if st.TokenCacheHits != 3 || st.TokenCacheMisses != 2 || st.TokensSigned != 2 || st.TokenCacheEntries != 2 ||
		st.TokenCacheBudget != DefaultTokenCacheBytes || st.TokenCacheBytes < 1000 || st.TokenCacheEvictions != 0 {
		t.Errorf("Stats = %+v, want 3 hits, 2 misses, 2 signatures and 2 entries", st)
	}
	off := newTest(t, fixed(nil), nil, WithTokenCacheBytes(0))
	off.TokenFor(alice)
	off.TokenFor(alice)
	if st := off.Stats(); st.TokensSigned != 2 || st.TokenCacheBudget != 0 || st.TokenCacheHits+st.TokenCacheMisses != 0 {
		t.Errorf("Stats without a cache = %+v, want 2 signatures and nothing else", st)
	}
}

// TestNewErrorsTokens checks the options of this file.
func TestNewErrorsTokens(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithTokenCacheBytes(-1), "budget -1 is negative"},
		{WithMaxTokenSize(100), "token size limit 100 is out of range"},
		{WithMaxTokenSize(1 << 20), "out of range"},
		{WithLogInterval(-time.Second), "log interval -1s is negative"},
	} {
		if _, err := New("w", KeyPEM(testKeyPEM(t)), fixed(nil), tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New error = %v, want %q", err, tc.want)
		}
	}
}

// clock is a time that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLogLimiter checks the rate limit by a clock moved by hand: one record
// per kind per interval, kinds apart, the suppressed count on the next one.
func TestLogLimiter(t *testing.T) {
	logs := &logBuffer{}
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	l := newLogLimiter(slog.New(slog.NewTextHandler(logs, nil)), time.Minute, clk.Now)
	ctx := t.Context()
	for range 100 {
		l.log(ctx, logResolverFailed, slog.LevelError, "failed")
		l.log(ctx, logFieldsDropped, slog.LevelWarn, "dropped")
		l.log(ctx, logUndecodableSession, slog.LevelDebug, "garbage") // below the handler's level
	}
	if got := logs.String(); strings.Count(got, "msg=failed") != 1 || strings.Count(got, "msg=dropped") != 1 || strings.Contains(got, "garbage") || strings.Contains(got, "suppressed") {
		t.Fatalf("log = %q, want one record of each kind and no count yet", got)
	}
	clk.Add(59 * time.Second)
	l.log(ctx, logResolverFailed, slog.LevelError, "failed")
	if n := strings.Count(logs.String(), "msg=failed"); n != 1 {
		t.Errorf("%d records within the interval, want 1", n)
	}
	clk.Add(time.Second)
	l.log(ctx, logResolverFailed, slog.LevelError, "failed")
	if got := logs.String(); strings.Count(got, "msg=failed") != 2 || !strings.Contains(got, "msg=failed suppressed=100") {
		t.Errorf("log = %q, want a second record with suppressed=100", got)
	}
	every := &logBuffer{}
	l = newLogLimiter(slog.New(slog.NewTextHandler(every, nil)), 0, clk.Now)
	for range 5 {
		l.log(ctx, logResolverFailed, slog.LevelError, "failed")
	}
	if n := strings.Count(every.String(), "msg=failed"); n != 5 {
		t.Errorf("interval 0: %d records, want 5", n)
	}
}

// TestGarbageCookiesDoNotFlood sends a thousand garbage session cookies and
// hostile fields: a site logging at info sees nothing of the cookies and
// one warning about the fields, and the next interval's record counts the
// rest.
func TestGarbageCookiesDoNotFlood(t *testing.T) {
	logs := &logBuffer{}
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	var calls int
	resolver := ResolverFunc(func(r *http.Request) (*Visitor, error) {
		calls++
		if calls%2 == 0 {
			return &Visitor{Name: "M", Fields: map[string]any{"exp": 1}}, nil
		}
		return nil, &undecodableSessionError{name: "sess", err: fmt.Errorf("securecookie: the value is not valid")}
	})
	m := newTest(t, resolver, logs)
	m.logs.now = clk.Now
	h := m.Handler(htmlHandler(page))
	for range 1000 {
		serve(h, httptest.NewRequest("GET", "/", nil))
	}
	if got := logs.String(); strings.Count(got, "level=") != 1 || !strings.Contains(got, "reserved=[exp]") {
		t.Fatalf("log after 1000 requests = %q, want one warning", got)
	}
	clk.Add(time.Minute)
	serve(h, httptest.NewRequest("GET", "/", nil))
	serve(h, httptest.NewRequest("GET", "/", nil))
	if got := logs.String(); strings.Count(got, "level=") != 2 || !strings.Contains(got, "suppressed=499") {
		t.Errorf("log = %q, want a second warning with suppressed=499", got)
	}
}

// TestManyFields checks the order of more fields than sortFields sorts by
// index, and that reservedClaim and reservedClaims agree.
func TestManyFields(t *testing.T) {
	s := newTest(t, fixed(nil), nil).signer
	for _, n := range []int{0, 1, 17, 300} {
		v := &Visitor{Name: "A", Fields: map[string]any{}}
		for i := range n {
			v.Fields[fmt.Sprintf("f%05d", (i*7919)%1000)] = i
		}
		m, _, err := members(t, s, v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := decodeJSON(t, []byte("{"+m+"}")), wantClaims(t, v); !reflect.DeepEqual(got, want) {
			t.Errorf("%d fields: normalize = %s, want %v", n, m, want)
		}
		last := ""
		for _, part := range strings.Split(m, `,"f`)[1:] {
			if part < last {
				t.Errorf("%d fields: %q after %q, want the labels sorted", n, part, last)
			}
			last = part
		}
	}
	for _, k := range []string{"name", "isLoggedIn", "email", "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "Name", "names", ""} {
		if reservedClaim(k) != reservedClaims[k] {
			t.Errorf("reservedClaim(%q) = %v, reservedClaims says %v", k, reservedClaim(k), reservedClaims[k])
		}
	}
	if len(reservedClaims) != 10 {
		t.Errorf("reservedClaims has %d names; reservedClaim knows 10", len(reservedClaims))
	}
}

// TestOversizedVisitorEndpoints checks that the token endpoint and the
// mobile handler serve a visitor too large for a token as anonymous, as
// pages do.
func TestOversizedVisitorEndpoints(t *testing.T) {
	big := &Visitor{Name: strings.Repeat("x", 1<<20)}
	m := newTest(t, fixed(big), nil, WithMobileURLTemplate("https://chat.example/m/WIDGET_ID?t=JWT_TOKEN"))
	rec := serve(m.TokenHandler(), httptest.NewRequest("GET", "/chatwidget/token", nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"loggedIn":false}` {
		t.Errorf("token endpoint: %d %s, want 200 {\"loggedIn\":false}", rec.Code, rec.Body)
	}
	rec = serve(m.MobileHandler(), httptest.NewRequest("GET", "/chat/mobile", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("mobile handler: %d %s, want 401", rec.Code, rec.Body)
	}
}

// TestTokenVerifiesWithOpenSSL checks the signature with openssl, an
// implementation that is not ours.
func TestTokenVerifiesWithOpenSSL(t *testing.T) {
	needOpenSSL(t)
	m := newTest(t, fixed(alice), nil)
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	token := tokenIn(t, body)
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "input"), []byte(token[:dot]), 0o600)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o600)
	pub, _ := filepath.Abs("testdata/public.pem")
	out := openssl(t, dir, "dgst", "-sha256", "-verify", pub, "-signature", "sig", "input")
	if !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl says %q, want Verified OK", out)
	}
	// A token for someone else's signing input must not verify.
	os.WriteFile(filepath.Join(dir, "input"), []byte(token[:dot]+"x"), 0o600)
	cmd := openSSLCommand(t, dir, "dgst", "-sha256", "-verify", pub, "-signature", "sig", "input")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a tampered input: %s", out)
	}
}

func TestReservedFieldsDropped(t *testing.T) {
	logs := &logBuffer{}
	v := &Visitor{Name: "Mallory", Fields: map[string]any{
		"name": "Admin", "isLoggedIn": false, "email": "x@evil", "exp": 9999999999, "iss": "evil",
		"aud": "x", "sub": "root", "nbf": 1, "iat": 1, "jti": "j", "Plan": "Free", "Big": json.Number("12345678901234567891"),
		"Bad": []string{"no"}, "": "empty",
	}}
	m := newTest(t, fixed(v), logs)
	body := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil)).Body.String()
	claims := parseToken(t, tokenIn(t, body))
	if claims["name"] != "Mallory" || claims["isLoggedIn"] != true || claims["Plan"] != "Free" || claims["Big"] != 12345678901234567891.0 {
		t.Errorf("claims = %v; a custom field won over a reserved claim, or Plan is missing", claims)
	}
	for _, k := range []string{"email", "iss", "aud", "sub", "nbf", "jti", "Bad", ""} {
		if _, ok := claims[k]; ok {
			t.Errorf("claim %q = %v, want it dropped", k, claims[k])
		}
	}
	for _, k := range []string{`reserved="[aud email exp iat isLoggedIn iss jti name nbf sub]"`, `unsupported=[Bad]`, "reserved claim"} {
		if !strings.Contains(logs.String(), k) {
			t.Errorf("log does not mention %q:\n%s", k, logs)
		}
	}
	if n := strings.Count(logs.String(), "level="); n != 1 {
		t.Errorf("%d log records, want one for all the dropped fields:\n%s", n, logs)
	}
}

// TestTokenCache checks that a visitor's token is reused while half its TTL
// remains, then renewed, and that different visitors get different tokens.
func TestTokenCache(t *testing.T) {
	m := newTest(t, fixed(nil), nil, WithTTL(10*time.Minute))
	now := time.Unix(1_800_000_000, 0)
	m.signer.now = func() time.Time { return now }
	tok := func(v *Visitor) string {
		s, err := m.signer.token(v)
		if err != nil {
			t.Fatal(err)
		}
		return s.token
	}
	first := tok(alice)
	if tok(alice) != first {
		t.Errorf("second token for the same visitor was signed again")
	}
	bob := &Visitor{Name: "Bob", Fields: map[string]any{"User ID": "u-2"}}
	if tok(bob) == first {
		t.Errorf("bob got alice's token")
	}
	copyOfAlice := *alice
	copyOfAlice.Fields = map[string]any{"User ID": "u-1001", "Telephone": "+1 555 0100", "Orders": 3, "VIP": false}
	if tok(&copyOfAlice) == first {
		t.Errorf("a visitor whose field differs got the cached token")
	}
	now = now.Add(4*time.Minute + 59*time.Second)
	if tok(alice) != first {
		t.Errorf("token renewed before half its TTL passed")
	}
	now = now.Add(2 * time.Second)
	if tok(alice) == first {
		t.Errorf("token reused after half its TTL passed")
	}
}

// TestFieldsSizeLimit checks that a resolver returning a megabyte of custom
// data gets a token without custom fields, and a log record.
func TestFieldsSizeLimit(t *testing.T) {
	logs := &logBuffer{}
	big := &Visitor{Name: "Alice", Fields: map[string]any{"Notes": strings.Repeat("x", 1<<20), "Plan": "Pro"}}
	m := newTest(t, fixed(big), logs)
	rec := serve(m.Handler(htmlHandler(page)), httptest.NewRequest("GET", "/", nil))
	if rec.Body.Len() > len(page)+2048 {
		t.Fatalf("page grew by %d bytes", rec.Body.Len()-len(page))
	}
	claims := parseToken(t, tokenIn(t, rec.Body.String()))
	if claims["name"] != "Alice" || claims["Plan"] != nil || claims["Notes"] != nil {
		t.Errorf("claims = %v, want Alice without custom fields", claims)
	}
	if !strings.Contains(logs.String(), "custom fields dropped: too large") {
		t.Errorf("log = %q", logs)
	}
	small := newTest(t, fixed(&Visitor{Name: "A", Fields: map[string]any{"Plan": "Pro"}}), nil, WithMaxFieldsSize(4))
	if tok, _, _ := small.TokenFor(&Visitor{Name: "A", Fields: map[string]any{"Plan": "Pro"}}); parseToken(t, tok)["Plan"] != nil {
		t.Errorf("WithMaxFieldsSize(4) kept a 7-byte field")
	}
}

// reservedClaims are the claims a custom field may never overwrite, as a
// list to check reservedClaim against.
var reservedClaims = map[string]bool{
	"name": true, "isLoggedIn": true, "email": true,
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
}

// token is tokenFor outside a request.
func (s *signer) token(v *Visitor) (signed, error) { return s.tokenFor(context.Background(), v) }
