package chatwidget

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"
)

// This file is the tokens room: a visitor is normalized once into the JSON
// members of their claims; the cache key and the signed payload are both
// made of those bytes, so the two cannot disagree; the token is bounded
// before it is signed; tokens are signed once per visitor per half TTL and
// kept in a cache sized in bytes (tokenCache, at the end of this file).

// DefaultMaxTokenSize is the most bytes a token may take when
// [WithMaxTokenSize] is not given.
const DefaultMaxTokenSize = 8 << 10

// The bounds of [WithMaxTokenSize]: the smallest leaves room for a name and
// an email beside the header and a 4096-bit RSA signature; the largest is
// already more than a URL or a page should carry.
const (
	minMaxTokenSize = 1 << 10
	maxMaxTokenSize = 64 << 10
)

// errTokenTooLarge reports a visitor whose name, email and subject alone
// make a token over the limit; the visitor is served as anonymous.
var errTokenTooLarge = errors.New("chatwidget: the visitor's name, email and subject make a token over the limit of WithMaxTokenSize; shorten them in the resolver or raise the limit")

// signer turns visitors into signed tokens, reusing a token while at least
// half of its TTL remains.
type signer struct {
	key       crypto.Signer
	method    *signingMethod
	kid       string // "" for no kid header
	header    string // the base64url JOSE header
	fixed     []byte // the claims every token carries after iat and exp: iss, aud
	sigLen    int    // length of a base64url signature
	ttl       time.Duration
	now       func() time.Time
	maxFields int
	maxToken  int
	logs      *logLimiter
	cache     *tokenCache // nil when off
	flight    singleflight.Group
	signed    atomic.Uint64
}

// newSigner loads key and checks it for c's algorithm.
func newSigner(key Key, c *config, logs *logLimiter) (*signer, error) {
	k, err := key.load()
	if err != nil {
		return nil, err
	}
	method := signingMethods[c.alg]
	if method == nil {
		return nil, nil // validate reports the algorithm
	}
	if err := checkSigner(k, c.alg); err != nil {
		return nil, err
	}
	kid := c.kid
	if !c.kidSet {
		if kid, err = Thumbprint(k.Public()); err != nil {
			return nil, err
		}
	}
	s := &signer{
		key:       k,
		method:    method,
		kid:       kid,
		ttl:       c.ttl,
		now:       time.Now,
		maxFields: c.maxFields,
		maxToken:  c.maxToken,
		logs:      logs,
	}
	s.header, s.fixed, err = jose(method.alg, kid, c.issuer, c.audience)
	if err != nil {
		return nil, err
	}
	// A token's key is its text from the dot after the header on.
	s.cache = newTokenCache(c.cacheBytes, len(s.header)+1)
	s.sigLen = base64.RawURLEncoding.EncodedLen(signatureSize(k.Public()))
	return s, nil
}

// jose returns the base64url header of the tokens and the JSON of the
// claims that every token carries after iat and exp.
func jose(alg, kid, issuer string, audience []string) (string, []byte, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{alg, kid, "JWT"})
	if err != nil {
		return "", nil, err
	}
	var fixed []byte
	if issuer != "" {
		fixed = appendJSONString(append(fixed, `,"iss":`...), issuer)
	}
	switch len(audience) {
	case 0:
	case 1:
		fixed = appendJSONString(append(fixed, `,"aud":`...), audience[0])
	default:
		fixed = append(fixed, `,"aud":[`...)
		for i, a := range audience {
			if i > 0 {
				fixed = append(fixed, ',')
			}
			fixed = appendJSONString(fixed, a)
		}
		fixed = append(fixed, ']')
	}
	return base64.RawURLEncoding.EncodeToString(h), fixed, nil
}

// signatureSize is the size of a JWS signature by the key of pub: the
// modulus for RSA, r and s for ECDSA (checkSigner admits no other).
func signatureSize(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return (k.N.BitLen() + 7) / 8
	case *ecdsa.PublicKey:
		return 2 * ((k.Curve.Params().BitSize + 7) / 8)
	}
	return 512
}

// signed is a token and the Unix time of its exp claim.
type signed struct {
	token string
	exp   int64
	now   int64 // when the token was handed out, for the refresh script
}

// tokenFor returns the signed token for v, from the cache while at least
// half of its TTL remains. What normalization leaves out of the claims is
// logged (rate limited) with ctx; errTokenTooLarge means v cannot have a
// token at all.
func (s *signer) tokenFor(ctx context.Context, v *Visitor) (signed, error) {
	var mbuf [1024]byte
	members, err := s.normalize(ctx, mbuf[:0], v)
	if err != nil {
		return signed{}, err
	}
	var kbuf [1400]byte
	key := s.cacheKey(kbuf[:0], members)
	now := s.now()
	t, ok := s.cache.get(key, now.UnixNano())
	if !ok {
		if t, err = s.signOnce(string(members), string(key), now); err != nil {
			return signed{}, err
		}
	}
	t.now = now.Unix()
	return t, nil
}

// signOnce signs members, once for all the concurrent first requests of one
// visitor, and caches the token under key.
func (s *signer) signOnce(members, key string, now time.Time) (signed, error) {
	t, err, _ := s.flight.Do(key, func() (any, error) {
		if t, ok := s.cache.peek(key, now.UnixNano()); ok {
			return t, nil // signed by a flight that ended after our lookup
		}
		t, err := s.sign(members, now)
		if err != nil {
			return t, err
		}
		// The key is the start of the token's payload: the cache keeps
		// it as part of the token, not as a copy.
		s.cache.put(t, len(key), now.Add(s.ttl/2).UnixNano(), now.UnixNano())
		return t, nil
	})
	if err != nil {
		return signed{}, err
	}
	return t.(signed), nil
}

// sign makes the token of the claims members, issued at now: the header,
// then the payload, which begins with members, then the signature.
func (s *signer) sign(members string, now time.Time) (signed, error) {
	exp := now.Add(s.ttl).Unix()
	payload := make([]byte, 0, len(members)+len(s.fixed)+48)
	payload = append(append(payload, '{'), members...)
	payload = strconv.AppendInt(append(payload, `,"iat":`...), now.Unix(), 10)
	payload = strconv.AppendInt(append(payload, `,"exp":`...), exp, 10)
	payload = append(append(payload, s.fixed...), '}')

	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(s.header)+2+enc.EncodedLen(len(payload))+s.sigLen)
	buf = append(append(buf, s.header...), '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := s.method.Sign(string(buf), s.key)
	s.signed.Add(1)
	if err != nil {
		// The error of a signing method names the method, never the key.
		return signed{}, fmt.Errorf("chatwidget: sign token: %w", err)
	}
	buf = enc.AppendEncode(append(buf, '.'), sig)
	tok := string(buf)
	if !validToken(tok) { // base64url and dots by construction; checked once, so that pages need not
		return signed{}, errors.New("chatwidget: signed token is not a compact JWS")
	}
	return signed{token: tok, exp: exp}, nil
}

// tokenSize is the most bytes a token whose claims members take n bytes
// may have: the header, the payload (with iat and exp of up to maxUnixDigits
// each, and iss and aud) and the signature, in base64url, with two dots.
func (s *signer) tokenSize(n int) int {
	const maxUnixDigits = 11
	payload := 1 + n + len(`,"iat":`) + len(`,"exp":`) + 2*maxUnixDigits + len(s.fixed) + 1
	return len(s.header) + 1 + base64.RawURLEncoding.EncodedLen(payload) + 1 + s.sigLen
}

// cacheKey appends to dst the cache key of the claims members: the
// base64url of the payload's first bytes, "{" and members, and as many of
// the bytes that follow members in every payload (`,"`) as make a whole
// number of base64 groups. So the key is the token's own text, from the
// dot after the header on; and since members never end inside a value, nor
// with a comma or a quote that opens a name, two different members never
// give one key.
func (s *signer) cacheKey(dst, members []byte) []byte {
	var head [3]byte
	n := 1 + len(members)
	pad := (3 - n%3) % 3
	// Encode "{" + members + `,"`[:pad] without copying members: the first
	// group from head, the rest straight from members, the last group from
	// head again.
	enc := base64.RawURLEncoding
	if len(members) < 2 {
		return enc.AppendEncode(dst, append(append(append(head[:0], '{'), members...), `,"`[:pad]...))
	}
	head[0], head[1], head[2] = '{', members[0], members[1]
	dst = enc.AppendEncode(dst, head[:])
	rest := members[2:]
	whole := len(rest) - len(rest)%3
	dst = enc.AppendEncode(dst, rest[:whole])
	if tail := rest[whole:]; len(tail) > 0 {
		dst = enc.AppendEncode(dst, append(append(head[:0], tail...), `,"`[:pad]...))
	}
	return dst
}

// normalize appends to dst the JSON members of the claims that v yields,
// apart from the times, iss and aud: "name", "isLoggedIn", "email" and
// "sub" when not empty, then each custom field kept, in the byte order of
// its label. It is the one place where it is decided what a token carries.
// Fields with a reserved or empty label, a label that is not UTF-8 or a
// value that is not a string, bool or finite number are left out; all
// fields are left out when they take more than maxFields bytes, or when
// the token would take more than maxToken; each is logged. errTokenTooLarge
// means the token is too large without fields.
func (s *signer) normalize(ctx context.Context, dst []byte, v *Visitor) ([]byte, error) {
	dst = appendJSONString(append(dst, `"name":`...), v.Name)
	dst = append(dst, `,"isLoggedIn":true`...)
	if v.Email != "" {
		dst = appendJSONString(append(dst, `,"email":`...), v.Email)
	}
	if v.Subject != "" {
		dst = appendJSONString(append(dst, `,"sub":`...), v.Subject)
	}
	base := len(dst)
	if len(v.Fields) > 0 {
		var dropped fieldDrops
		dst, dropped = appendFields(dst, v.Fields)
		if dropped.any() {
			s.logs.log(ctx, logFieldsDropped, slog.LevelWarn, "chatwidget: custom fields dropped: a label is a reserved claim, empty or not UTF-8, or a value is not a string, bool or finite number; fix the resolver", dropped.attrs()...)
		}
		if n := len(dst) - base; n > s.maxFields {
			s.logs.log(ctx, logFieldsTooLarge, slog.LevelWarn, "chatwidget: custom fields dropped: too large for a token; keep them under the limit of WithMaxFieldsSize",
				slog.Int("bytes", n), slog.Int("limit", s.maxFields))
			dst = dst[:base]
		}
	}
	if size := s.tokenSize(len(dst)); size > s.maxToken {
		if len(dst) == base || s.tokenSize(base) > s.maxToken {
			s.logs.log(ctx, logTokenAnonymous, slog.LevelWarn, "chatwidget: visitor served as anonymous: name, email and subject make a token over the limit of WithMaxTokenSize",
				slog.Int("bytes", s.tokenSize(base)), slog.Int("limit", s.maxToken))
			return nil, errTokenTooLarge
		}
		s.logs.log(ctx, logTokenTooLarge, slog.LevelWarn, "chatwidget: custom fields dropped: the token would be over the limit of WithMaxTokenSize",
			slog.Int("bytes", size), slog.Int("limit", s.maxToken))
		dst = dst[:base]
	}
	return dst, nil
}

// fieldDrops collects the custom fields that normalization left out.
type fieldDrops struct {
	reserved, unsupported []string // labels, truncated
	types                 []string // of the unsupported values
	badLabels             int      // empty or not UTF-8
}

func (d *fieldDrops) any() bool {
	return len(d.reserved)+len(d.unsupported)+d.badLabels > 0
}

func (d *fieldDrops) attrs() []slog.Attr {
	var a []slog.Attr
	if len(d.reserved) > 0 {
		a = append(a, slog.Any("reserved", d.reserved))
	}
	if len(d.unsupported) > 0 {
		a = append(a, slog.Any("unsupported", d.unsupported), slog.Any("types", d.types))
	}
	if d.badLabels > 0 {
		a = append(a, slog.Int("bad_labels", d.badLabels))
	}
	return a
}

// A field is a custom field being normalized; prefix is the first eight
// bytes of its label, big-endian, so that most comparisons of a sort are
// one of integers.
type field struct {
	prefix uint64
	label  string
	value  any
}

func (a *field) less(b *field) bool {
	return a.prefix < b.prefix || a.prefix == b.prefix && a.label < b.label
}

// sortFields returns the order of fs by label: an insertion sort of
// indexes, which moves a byte where a sort of fs would move forty, for the
// dozen fields a visitor has. Past 255 fields it sorts fs itself and
// returns nil.
func sortFields(fs []field, order []uint8) []uint8 {
	if len(fs) > 255 {
		slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.label, b.label) })
		return nil
	}
	for i := range fs {
		order = append(order, uint8(i))
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && fs[order[j]].less(&fs[order[j-1]]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order
}

// reservedClaim reports whether k is a claim a custom field may never
// overwrite (token_test.go holds the list as a map beside it).
func reservedClaim(k string) bool {
	switch k {
	case "name", "isLoggedIn", "email", "iss", "sub", "aud", "exp", "nbf", "iat", "jti":
		return true
	}
	return false
}

// appendFields appends the fields that may go into a token, each as
// `,"label":value`, sorted by label.
func appendFields(dst []byte, fields map[string]any) ([]byte, fieldDrops) {
	var d fieldDrops
	var stack [16]field
	fs := stack[:0]
	for k, v := range fields {
		var p [8]byte
		copy(p[:], k)
		fs = append(fs, field{binary.BigEndian.Uint64(p[:]), k, v})
	}
	var orderStack [16]uint8
	order := sortFields(fs, orderStack[:0])
	for j := range fs {
		f := &fs[j]
		if order != nil {
			f = &fs[order[j]]
		}
		k := f.label
		switch {
		case k == "" || !utf8.ValidString(k):
			// Two labels that are not UTF-8 could become one in JSON.
			d.badLabels++
			continue
		case reservedClaim(k):
			if len(d.reserved) < 10 {
				d.reserved = append(d.reserved, truncate(k, 40))
			}
			continue
		}
		n := len(dst)
		dst = appendJSONString(append(dst, ','), k)
		var ok bool
		if dst, ok = appendJSONValue(append(dst, ':'), f.value); !ok {
			dst = dst[:n]
			if len(d.unsupported) < 10 {
				d.unsupported = append(d.unsupported, truncate(k, 40))
				d.types = append(d.types, fmt.Sprintf("%T", f.value))
			}
		}
	}
	return dst, d
}

// appendJSONValue appends a field's value as JSON, as encoding/json writes
// it; false means the value may not go into a token.
func appendJSONValue(dst []byte, val any) ([]byte, bool) {
	switch v := val.(type) {
	case string:
		return appendJSONString(dst, v), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case int:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int64:
		return strconv.AppendInt(dst, v, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint64:
		return strconv.AppendUint(dst, v, 10), true
	case float64:
		return appendJSONFloat(dst, v, 64)
	case float32:
		return appendJSONFloat(dst, float64(v), 32)
	case json.Number:
		if !validJSONNumber(string(v)) {
			return dst, false
		}
		if f, err := strconv.ParseFloat(string(v), 64); err != nil && math.IsInf(f, 0) {
			return dst, false // finite numbers only: a verifier would read ±Inf or fail
		}
		return append(dst, v...), true
	}
	return dst, false
}

// appendJSONFloat appends f as encoding/json does; NaN and infinities are
// refused.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// validJSONNumber reports whether s is a JSON number (RFC 8259, 6).
func validJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (with <, > and & as \u003c and the like, U+2028 and U+2029
// escaped), except that each byte that is not UTF-8 becomes U+FFFD itself
// rather than its escape: so two strings that a verifier reads alike are
// written alike, and get one cache key.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonPlain[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(append(dst, s[start:i]...), "\ufffd"...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}

// jsonPlain tells the ASCII bytes a JSON string holds as they are.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for b := range t {
		t[b] = b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// stats returns the cache's and the signer's counts.
func (s *signer) stats() Stats {
	st := s.cache.stats()
	st.TokensSigned = s.signed.Load()
	return st
}

// DefaultTokenCacheBytes is the memory the token cache of a [Middleware]
// may take when [WithTokenCacheBytes] is not given: about 110,000 visitors
// whose tokens are 1 KB each.
const DefaultTokenCacheBytes = 128 << 20

// entryOverhead is what the cache takes for an entry beside its token: its
// slot, its share of the index and of the frequency sketch, measured with
// 100,000 entries of 1 KB tokens (TestCacheMemory).
const entryOverhead = 128

// charge is the memory the cache counts for a token of n bytes: the token,
// rounded up as the allocator does on average, and the entry's overhead.
func charge(n int) int64 { return int64(n + n/16 + entryOverhead) }

// A tokenCache maps cache keys to signed tokens, within a budget of bytes.
//
// It is split into shards by the key's hash, each with its own lock. Each
// shard has a small window (1% of its budget) and a main part, both in
// least-recently-used order, and a sketch that counts how often each key
// was asked for lately (W-TinyLFU, as Caffeine and otter do it, simplified).
// A new token enters the window. The one that leaves the window enters the
// main part if there is room, or if it has been asked for more often than
// the main part's least recently used token, which then leaves; otherwise
// it is dropped. So visitors who come back keep their tokens even when
// more visitors come than the budget holds, and a stream of new visitors
// (or a round robin over more of them than fit) cannot wash out the ones
// that keep coming: hits degrade with the overflow instead of falling to
// none, as they do in a plain LRU.
type tokenCache struct {
	shards []cacheShard
	mask   uint64
	seed   maphash.Seed
	budget int64
	keyOff int // where in a token its key starts
}

type cacheShard struct {
	mu           sync.Mutex
	index        map[uint64]int32 // the key's hash → slot; the slot's token has the key
	slots        []cacheSlot
	free         []int32 // unused slots
	window, main cacheList
	windowBudget int64
	budget       int64
	sketch       []uint8 // blocks of 64 counters, each saturating at 15
	sketchMask   uint64  // blocks - 1
	adds         int     // counted since the sketch was last halved
	halveAt      int
	hits         uint64
	misses       uint64
	evictions    uint64
	_            [64]byte // keeps the shards' locks on cache lines of their own
}

// A cacheSlot holds one token, whose key is token[keyOff:keyOff+keyLen].
type cacheSlot struct {
	token      string
	exp        int64  // the token's exp claim
	fresh      int64  // handed out until then (Unix ns)
	hash       uint64 // of the key
	charge     int32
	prev, next int32 // in its list, a ring
	keyLen     uint16
	list       uint8
}

// key is the slot's cache key.
func (s *cacheShard) key(i int32, off int) string {
	sl := &s.slots[i]
	return sl.token[off : off+int(sl.keyLen)]
}

// The lists a slot may be in.
const (
	inNoList uint8 = iota
	inWindow
	inMain
)

// A cacheList is a ring of slots, the most recently used first.
type cacheList struct {
	head  int32 // -1 when empty
	bytes int64
}

// newTokenCache returns a cache of budget bytes for tokens whose keys start
// at keyOff, or nil (no cache) for 0.
func newTokenCache(budget, keyOff int) *tokenCache {
	if budget <= 0 {
		return nil
	}
	// Enough shards that cores seldom wait for one another, none under
	// 256 KiB, so that the budget is not spread too thin.
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 256 && budget/(2*n) >= 256<<10 {
		n *= 2
	}
	c := &tokenCache{shards: make([]cacheShard, n), mask: uint64(n - 1), seed: maphash.MakeSeed(), budget: int64(budget), keyOff: keyOff}
	for i := range c.shards {
		s := &c.shards[i]
		s.budget = int64(budget / n)
		s.windowBudget = max(s.budget/100, min(s.budget/4, 64<<10))
		s.index = make(map[uint64]int32)
		s.window.head, s.main.head = -1, -1
		w := 16
		for int64(w) < s.budget/charge(1024) {
			w *= 2
		}
		s.sketch = make([]uint8, 4*w)
		s.sketchMask = uint64(4*w/64 - 1)
		s.halveAt = 10 * w
	}
	return c
}

// shard returns the shard for a key's hash.
func (c *tokenCache) shard(h uint64) *cacheShard { return &c.shards[h&c.mask] }

// get returns the token cached under key if it is still fresh at now
// (Unix ns), and counts the lookup.
func (c *tokenCache) get(key []byte, now int64) (signed, bool) {
	if c == nil {
		return signed{}, false
	}
	h := maphash.Bytes(c.seed, key)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count(h)
	t, ok := s.lookup(h, key, c.keyOff, now)
	if ok {
		s.hits++
	} else {
		s.misses++
	}
	return t, ok
}

// peek is get without counting, for the second look of a signing flight.
func (c *tokenCache) peek(key string, now int64) (signed, bool) {
	if c == nil {
		return signed{}, false
	}
	h := maphash.String(c.seed, key)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(h, []byte(key), c.keyOff, now)
}

// lookup finds the token of key, whose hash is h: the index gives the slot,
// and the slot's token must hold key itself, so that two keys of one hash
// never share a token.
func (s *cacheShard) lookup(h uint64, key []byte, off int, now int64) (signed, bool) {
	i, ok := s.index[h]
	if !ok || s.key(i, off) != string(key) {
		return signed{}, false
	}
	sl := &s.slots[i]
	if now >= sl.fresh {
		s.drop(i)
		return signed{}, false
	}
	if l := sl.list; s.list(l).head != i {
		s.unlink(i)
		s.push(i, l)
	}
	return signed{token: sl.token, exp: sl.exp}, true
}

// put caches t, whose key is its text from keyOff on, keyLen bytes, until
// fresh.
func (c *tokenCache) put(t signed, keyLen int, fresh, now int64) {
	if c == nil {
		return
	}
	cost := charge(len(t.token))
	h := maphash.String(c.seed, t.token[c.keyOff:c.keyOff+keyLen])
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cost > s.budget-s.windowBudget {
		return // more than a shard holds: not cached
	}
	if i, ok := s.index[h]; ok {
		s.drop(i) // the same key signed again, or another of the same hash
	}
	var i int32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
	} else {
		s.slots = append(s.slots, cacheSlot{})
		i = int32(len(s.slots) - 1)
	}
	s.slots[i] = cacheSlot{token: t.token, exp: t.exp, fresh: fresh, hash: h, charge: int32(cost), keyLen: uint16(keyLen)}
	s.index[h] = i
	s.push(i, inWindow)
	for s.window.bytes > s.windowBudget {
		cand := s.slots[s.window.head].prev // the window's least recently used
		s.unlink(cand)
		s.admit(cand, now)
	}
}

// admit moves cand, which has left the window, into the main part. While
// there is no room, it compares cand with the main part's least recently
// used token: an expired one leaves; one asked for as often as cand or
// more stays, and cand is dropped; one asked for less often is evicted.
func (s *cacheShard) admit(cand int32, now int64) {
	cs := &s.slots[cand]
	room := s.budget - s.windowBudget
	for s.main.bytes+int64(cs.charge) > room {
		v := s.slots[s.main.head].prev
		vs := &s.slots[v]
		if now >= vs.fresh {
			s.drop(v)
			continue
		}
		s.evictions++
		if s.frequency(cs.hash) <= s.frequency(vs.hash) {
			s.drop(cand)
			return
		}
		s.drop(v)
	}
	s.push(cand, inMain)
}

func (s *cacheShard) list(l uint8) *cacheList {
	if l == inWindow {
		return &s.window
	}
	return &s.main
}

// push puts slot i, in no list, at the head of list l.
func (s *cacheShard) push(i int32, l uint8) {
	sl := &s.slots[i]
	ls := s.list(l)
	sl.list = l
	if ls.head < 0 {
		sl.prev, sl.next = i, i
	} else {
		head := &s.slots[ls.head]
		sl.prev, sl.next = head.prev, ls.head
		s.slots[head.prev].next = i
		head.prev = i
	}
	ls.head = i
	ls.bytes += int64(sl.charge)
}

// unlink takes slot i out of its list.
func (s *cacheShard) unlink(i int32) {
	sl := &s.slots[i]
	ls := s.list(sl.list)
	if sl.next == i {
		ls.head = -1
	} else {
		s.slots[sl.prev].next = sl.next
		s.slots[sl.next].prev = sl.prev
		if ls.head == i {
			ls.head = sl.next
		}
	}
	ls.bytes -= int64(sl.charge)
	sl.list = inNoList
}

// drop removes slot i from the cache.
func (s *cacheShard) drop(i int32) {
	if s.slots[i].list != inNoList {
		s.unlink(i)
	}
	delete(s.index, s.slots[i].hash)
	s.slots[i] = cacheSlot{}
	s.free = append(s.free, i)
}

// count counts a request for the key of hash h in the sketch, halving every
// counter once halveAt requests have been counted, so that the sketch
// follows what visitors do now.
func (s *cacheShard) count(h uint64) {
	for row := range uint64(4) {
		c := &s.sketch[s.cell(h, row)]
		if *c < 15 {
			*c++
		}
	}
	if s.adds++; s.adds >= s.halveAt {
		s.adds = 0
		for j := range s.sketch {
			s.sketch[j] >>= 1
		}
	}
}

// frequency is the estimate of how often the key of hash h was asked for:
// the least of its four counters.
func (s *cacheShard) frequency(h uint64) uint8 {
	f := uint8(15)
	for row := range uint64(4) {
		f = min(f, s.sketch[s.cell(h, row)])
	}
	return f
}

// cell is the counter of hash h in a row. A key's four counters are in one
// block of 64 bytes, one cache line, each row a sixteenth of it: one memory
// access per request rather than four (the hash's low bits chose the shard,
// the next the block, the top sixteen the counters).
func (s *cacheShard) cell(h, row uint64) uint64 {
	return (h>>8&s.sketchMask)<<6 | row<<4 | h>>(48+4*row)&15
}

// stats returns the cache's counts.
func (c *tokenCache) stats() Stats {
	var st Stats
	if c == nil {
		return st
	}
	st.TokenCacheBudget = uint64(c.budget)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.TokenCacheHits += s.hits
		st.TokenCacheMisses += s.misses
		st.TokenCacheEvictions += s.evictions
		st.TokenCacheEntries += uint64(len(s.index))
		st.TokenCacheBytes += uint64(s.window.bytes + s.main.bytes)
		s.mu.Unlock()
	}
	return st
}
