package chatwidget

import (
	"crypto"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// reservedClaims are the claims a custom field may never overwrite.
var reservedClaims = map[string]bool{
	"name": true, "isLoggedIn": true, "email": true,
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
}

// signer turns visitors into signed tokens, reusing a token while at least
// half of its TTL remains.
type signer struct {
	key      crypto.Signer
	method   *signingMethod
	kid      string // "" for no kid header
	ttl      time.Duration
	issuer   string
	audience []string
	now      func() time.Time
	logger   *slog.Logger
	cache    *tokenCache // nil when off
	flight   singleflight.Group
}

// newSigner loads key and checks it for c's algorithm.
func newSigner(key Key, c *config) (*signer, error) {
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
	return &signer{
		key:      k,
		method:   method,
		kid:      kid,
		ttl:      c.ttl,
		issuer:   c.issuer,
		audience: c.audience,
		now:      c.now,
		logger:   c.logger,
		cache:    newTokenCache(c.cacheSize),
	}, nil
}

// signed is a token and the Unix time of its exp claim.
type signed struct {
	token string
	exp   int64
	now   int64 // when the token was handed out, for the refresh script
}

// token returns the signed token for v.
func (s *signer) token(v *Visitor) (signed, error) {
	var buf [256]byte
	key := s.claimsKey(buf[:0], v)
	now := s.now()
	if s.cache != nil {
		if t, ok := s.cache.get(key, now); ok {
			return t, nil
		}
	}
	ks := string(key)
	t, err, _ := s.flight.Do(ks, func() (any, error) {
		if s.cache != nil {
			if t, ok := s.cache.get(key, now); ok {
				return t, nil
			}
		}
		t, err := s.sign(v, now)
		if err == nil && s.cache != nil {
			s.cache.put(ks, t, now.Add(s.ttl/2))
		}
		return t, err
	})
	if err != nil {
		return signed{}, err
	}
	return t.(signed), nil
}

// sign signs v's claims, issued at now.
func (s *signer) sign(v *Visitor, now time.Time) (signed, error) {
	claims := jwt.MapClaims{
		"name":       v.Name,
		"isLoggedIn": true,
		"iat":        now.Unix(),
		"exp":        now.Add(s.ttl).Unix(),
	}
	if v.Email != "" {
		claims["email"] = v.Email
	}
	if v.Subject != "" {
		claims["sub"] = v.Subject
	}
	if s.issuer != "" {
		claims["iss"] = s.issuer
	}
	switch len(s.audience) {
	case 0:
	case 1:
		claims["aud"] = s.audience[0]
	default:
		claims["aud"] = s.audience
	}
	for k, val := range v.Fields {
		if s.fieldOK(k, val) {
			claims[k] = val
		}
	}
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	t, err := tok.SignedString(s.key)
	if err != nil {
		// The error of a signing method names the method, never the key.
		return signed{}, fmt.Errorf("chatwidget: sign token: %w", err)
	}
	return signed{token: t, exp: now.Add(s.ttl).Unix()}, nil
}

// fieldOK reports whether a custom field may go into the claims, logging why
// not when it may not.
func (s *signer) fieldOK(k string, val any) bool {
	if reservedClaims[k] {
		s.logger.Warn("chatwidget: custom field dropped: its name is a reserved claim; rename it", "field", k)
		return false
	}
	if k == "" {
		s.logger.Warn("chatwidget: custom field dropped: empty name")
		return false
	}
	if !validFieldValue(val) {
		s.logger.Warn("chatwidget: custom field dropped: value must be a string, bool or finite number", "field", k, "type", fmt.Sprintf("%T", val))
		return false
	}
	return true
}

// fieldsSize is about how many bytes fields take in a token: each label and
// the text of each value, as JSON escapes them.
func fieldsSize(fields map[string]any) int {
	n := 0
	for k, v := range fields {
		n += len(k)
		n += escapedLen(k) - len(k)
		switch v := v.(type) {
		case string:
			n += escapedLen(v)
		case json.Number:
			n += len(v)
		default:
			n += 8
		}
	}
	return n
}

// escapedLen is the length of s in a JSON string as encoding/json writes it
// (<, > and & as \u003c and the like).
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' || c == '>' || c == '&' || c < 0x20:
			n += 5
		case c == '"' || c == '\\':
			n++
		}
	}
	return n
}

func validFieldValue(val any) bool {
	switch v := val.(type) {
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case json.Number:
		f, err := v.Float64()
		return err == nil && !math.IsInf(f, 0)
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case float32:
		return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
	}
	return false
}

// claimsKey appends to dst an unambiguous encoding of the claims that v
// yields, apart from the times: two visitors with equal keys get equal
// tokens. Fields that would be dropped are left out.
func (s *signer) claimsKey(dst []byte, v *Visitor) []byte {
	dst = appendKeyString(dst, v.Name)
	dst = appendKeyString(dst, v.Email)
	dst = appendKeyString(dst, v.Subject)
	if len(v.Fields) == 0 {
		return dst
	}
	var stack [8]string
	names := stack[:0]
	for k := range v.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		val := v.Fields[k]
		if reservedClaims[k] || k == "" || !validFieldValue(val) {
			continue
		}
		dst = appendKeyString(dst, k)
		dst = appendKeyValue(dst, val)
	}
	return dst
}

func appendKeyString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendKeyValue encodes a field value by its JSON form, which is what the
// token carries.
func appendKeyValue(dst []byte, val any) []byte {
	switch v := val.(type) {
	case string:
		return appendKeyString(append(dst, 's'), v)
	case bool:
		return strconv.AppendBool(append(dst, 'b'), v)
	case float64:
		return strconv.AppendFloat(append(dst, 'n'), v, 'g', -1, 64)
	case float32:
		return strconv.AppendFloat(append(dst, 'n'), float64(v), 'g', -1, 32)
	case json.Number:
		return append(append(dst, 'n'), v...)
	default:
		return fmt.Appendf(append(dst, 'n'), "%d;", v)
	}
}

// tokenCache is a bounded map from claims keys to tokens. It keeps two
// generations: when the current one is full it becomes the previous one and
// the oldest is dropped, so that at most size entries are kept and a token
// used in the last generation survives.
type tokenCache struct {
	mu        sync.Mutex
	size      int
	cur, prev map[string]cachedToken
}

type cachedToken struct {
	signed
	fresh time.Time // reuse the token until then
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, cur: make(map[string]cachedToken)}
}

func (c *tokenCache) get(key []byte, now time.Time) (signed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[string(key)]
	if !ok {
		if e, ok = c.prev[string(key)]; ok && now.Before(e.fresh) {
			c.add(string(key), e)
		}
	}
	if !ok || !now.Before(e.fresh) {
		return signed{}, false
	}
	return e.signed, true
}

func (c *tokenCache) put(key string, t signed, fresh time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(key, cachedToken{signed: t, fresh: fresh})
}

// add stores e under key, rolling the generations over when cur is full.
func (c *tokenCache) add(key string, e cachedToken) {
	half := max(c.size/2, 1)
	if _, ok := c.cur[key]; !ok && len(c.cur) >= half {
		c.prev, c.cur = c.cur, make(map[string]cachedToken, half)
	}
	c.cur[key] = e
}
