package chatwidget

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// An Option configures a [Middleware]. Options are applied in order by [New],
// which then validates the result as a whole.
type Option func(*config)

// config holds everything [New] learns from its arguments and options.
type config struct {
	ttl             time.Duration
	issuer          string
	audience        []string
	embed           string
	customerData    string
	anonymous       string
	anonymousWidget bool
	nonce           func(*http.Request) string
	skip            func(*http.Request) bool
	logger          *slog.Logger
	cacheBytes      int
	alg             string
	kid             string
	kidSet          bool
	published       []crypto.PublicKey
	refresh         *Refresh
	maxFields       int
	maxToken        int
	logEvery        time.Duration
	mobile          string
	endpoints       string
}

// DefaultMaxFieldsSize is the most bytes of custom fields a token carries
// when [WithMaxFieldsSize] is not given.
const DefaultMaxFieldsSize = 8 << 10

// DefaultTTL is how long a token stays valid when [WithTTL] is not given.
const DefaultTTL = 10 * time.Minute

// maxTTL bounds [WithTTL]: a token that lives longer than a day outlives any
// reasonable session and turns a leaked page into a long-lived credential.
const maxTTL = 24 * time.Hour

func defaultConfig() config {
	return config{
		ttl:             DefaultTTL,
		embed:           DefaultEmbedTemplate,
		customerData:    DefaultCustomerDataTemplate,
		anonymousWidget: true,
		logger:          slog.Default(),
		cacheBytes:      DefaultTokenCacheBytes,
		alg:             RS256,
		maxFields:       DefaultMaxFieldsSize,
		maxToken:        DefaultMaxTokenSize,
		logEvery:        DefaultLogInterval,
		endpoints:       DefaultEndpoints,
	}
}

// DefaultEndpoints is the path prefix under which the middleware answers
// its own endpoints when [WithEndpoints] is not given.
const DefaultEndpoints = "/chatwidget/"

// WithEndpoints sets the path prefix under which the handlers that
// [Middleware.Handler] returns answer the middleware's own endpoints, before
// the wrapped handler (a router) sees the request, so that no route, however
// broad and in whatever order, can shadow them: prefix+"token"
// ([Middleware.TokenHandler], which [WithRefresh] fetches), prefix+"jwks.json"
// ([Middleware.JWKSHandler]) and, with [WithMobileURLTemplate],
// prefix+"mobile" ([Middleware.MobileHandler]). Other paths under the prefix
// go to the wrapped handler. The prefix must begin and end with "/"; ""
// turns the endpoints off, for a site that mounts the handlers itself.
// Default: [DefaultEndpoints] ("/chatwidget/").
//
// They are on by default so that the refresh script works as soon as it is
// configured, wherever the middleware wraps the site: the JWKS is public,
// and the token endpoint answers only same-origin requests with the
// requester's own token, which the page carries anyway.
func WithEndpoints(prefix string) Option {
	return func(c *config) { c.endpoints = prefix }
}

// WithTTL sets how long each token is valid: its exp claim is iat plus d.
// d must be between one second and 24 hours. Default: [DefaultTTL] (10m).
func WithTTL(d time.Duration) Option {
	return func(c *config) { c.ttl = d }
}

// WithIssuer sets the iss claim of every token. Default: no iss claim.
func WithIssuer(iss string) Option {
	return func(c *config) { c.issuer = iss }
}

// WithAudience sets the aud claim of every token. Default: no aud claim.
func WithAudience(aud ...string) Option {
	return func(c *config) { c.audience = append([]string(nil), aud...) }
}

// WithEmbedTemplate sets the vendor's embed code, as pasted from the vendor's
// settings. Every WIDGET_ID in it is replaced by the widget ID given to [New];
// nothing else is changed, except that each <script> start tag gets the CSP
// nonce (see [WithNonce]) and the first one gets the marker attribute
// data-chatwidget. It must contain a <script> element, and every URL in its
// attributes (src, href, srcset, action and the like) must be absolute:
// https:// and a host, or http:// on localhost or a loopback address. A
// relative or scheme-relative (//host/…) URL would follow any <base href>
// that the page's markup holds before the snippet; [New] refuses one, and a
// <base> element, saying what to write. Default: [DefaultEmbedTemplate].
func WithEmbedTemplate(html string) Option {
	return func(c *config) { c.embed = html }
}

// WithCustomerDataTemplate sets the vendor's customer-data code, inserted after
// the embed code for logged-in visitors only. Every WIDGET_ID in it is replaced
// by the widget ID and every JWT_TOKEN by the visitor's signed token (which
// holds only the characters A-Z a-z 0-9 - _ and ., so it is safe inside a
// JavaScript string). JWT_TOKEN may stand only in the text of a <script>
// that runs as JavaScript (no src, no type or a JavaScript one): [New]
// refuses it in an attribute, a comment, markup or a data block, where it
// would be page content. Its URLs must be absolute, as for
// [WithEmbedTemplate]. Default: [DefaultCustomerDataTemplate].
func WithCustomerDataTemplate(html string) Option {
	return func(c *config) { c.customerData = html }
}

// WithAnonymousTemplate sets code inserted after the embed code for visitors
// the [Resolver] does not know, to tell the widget that nobody is logged in
// now: widgets that remember the last visitor in the browser's storage need
// it after a logout, or the next page still shows the previous user. Every
// WIDGET_ID in it is replaced by the widget ID. Its URLs must be absolute,
// as for [WithEmbedTemplate]. Default: "", nothing.
func WithAnonymousTemplate(html string) Option {
	return func(c *config) { c.anonymous = html }
}

// WithAnonymousWidget sets whether visitors the [Resolver] does not know get
// the widget (the embed code with no customer data). Default: true.
func WithAnonymousWidget(on bool) Option {
	return func(c *config) { c.anonymousWidget = on }
}

// WithNonce sets a function that returns the request's CSP nonce, typically
// read from the context where the site's CSP middleware put it. Each inserted
// <script> tag then carries nonce="…". A nonce that is not base64 (A-Z a-z 0-9
// + / = - _) is logged and left out. Default: nil, no nonce.
func WithNonce(f func(r *http.Request) string) Option {
	return func(c *config) { c.nonce = f }
}

// WithSkip sets a predicate that, when it returns true, makes the middleware
// step aside for that request: the handler is called with the original
// ResponseWriter and the resolver is not called, and [Middleware.Snippet]
// gives it nothing (no writer would keep the page out of shared caches).
// Use it for paths, methods or hosts that must never carry the widget. The
// middleware's own endpoints (see [WithEndpoints]) answer before it is
// asked. Default: nil, skip nothing. See also [Disable] for a per-response
// opt-out from the handler.
func WithSkip(f func(r *http.Request) bool) Option {
	return func(c *config) { c.skip = f }
}

// WithLogger sets where the middleware logs resolver failures, dropped custom
// fields and other request-time problems, each kind at most once per
// [WithLogInterval]. Log records never hold key material or whole tokens.
// Default: [slog.Default]() at the time [New] is called; nil means the
// default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithTokenCacheBytes sets the memory the middleware's token cache may
// take, in bytes. The cache keeps each visitor's signed token, keyed by the
// exact claims, so that it is signed once and reused while at least half of
// its TTL remains; a visitor costs about 1.2 KB for a 1 KB token (the token,
// rounded as the allocator rounds it, and 128 bytes of bookkeeping). Give
// it room for the visitors of half a TTL: past the budget it keeps the
// visitors who come back most and signs for the others, and
// [Middleware.Stats] shows the evictions. 0 turns the cache off and signs
// on every request. Default: [DefaultTokenCacheBytes] (128 MiB, about
// 110,000 such visitors), taken only as visitors come.
func WithTokenCacheBytes(n int) Option {
	return func(c *config) { c.cacheBytes = n }
}

// WithMaxTokenSize sets the most bytes a token may take: its header, its
// claims (name, email, subject and custom fields together, JSON-escaped,
// with iat, exp, iss and aud) and its signature, in base64url, as it
// appears in the page. A visitor whose token would be larger gets one
// without custom fields, and if that is still too large, the anonymous
// widget; each is logged. It bounds what a resolver gone wrong (a megabyte
// name) can add to every page and to the cache. n must be between 1024 and
// 65536. Default: [DefaultMaxTokenSize] (8 KiB; a typical token takes 1).
func WithMaxTokenSize(n int) Option {
	return func(c *config) { c.maxToken = n }
}

// WithLogInterval sets how often at most the middleware logs each kind of
// request-time problem (an undecodable session cookie, a resolver error,
// dropped fields, a failed signature, …): the first record of a kind goes
// out at once, the next no sooner than d later, with the number of records
// left out in between as "suppressed". So nothing visitors send can flood
// the logs. 0 logs every record. Default: [DefaultLogInterval] (1m).
func WithLogInterval(d time.Duration) Option {
	return func(c *config) { c.logEvery = d }
}

// WithMaxFieldsSize sets the most bytes of custom fields (labels and values,
// as JSON: `,"label":"value"` each) a token may carry. A visitor whose fields are larger gets a
// token without any custom field, and a log record: a token travels in every
// page and URL, and a resolver gone wrong must not make each page megabytes
// larger. Default: [DefaultMaxFieldsSize] (8 KiB).
func WithMaxFieldsSize(n int) Option {
	return func(c *config) { c.maxFields = n }
}

// WithAlgorithm sets the JWS algorithm of the tokens: [RS256] (the default,
// what the vendor expects), or [PS256] or [ES256] for vendors that accept
// them. RS256 and PS256 need an RSA key of at least 2048 bits; ES256 needs a
// P-256 ECDSA key. Default: RS256.
func WithAlgorithm(alg string) Option {
	return func(c *config) { c.alg = alg }
}

// WithKeyID sets the kid header of the tokens. The empty string leaves the
// header out, for vendors that reject it. Default: the RFC 7638 thumbprint
// of the public key (see [Thumbprint]), which every instance that shares the
// key computes alike.
func WithKeyID(kid string) Option {
	return func(c *config) { c.kid, c.kidSet = kid, true }
}

// WithPublishedKeys adds public keys to those the middleware publishes
// ([Middleware.JWKSHandler], [Middleware.PublishedKeysPEM]) beside its signing
// key, each with its thumbprint as kid: the next key before a rotation, the
// previous one until its last tokens expire. See [ParsePublicKeyPEM].
// Default: none.
func WithPublishedKeys(pub ...crypto.PublicKey) Option {
	return func(c *config) { c.published = append(c.published, pub...) }
}

// widgetIDPattern is the strict character set of widget IDs: it keeps the ID
// inert wherever a vendor template puts it (a URL, a JavaScript string, an
// attribute).
var widgetIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// validate reports every configuration error at once.
func (c *config) validate(widgetID string) error {
	var errs []error
	if !widgetIDPattern.MatchString(widgetID) {
		errs = append(errs, fmt.Errorf("chatwidget: widget ID %q is not valid; copy it from the vendor's settings (1 to 128 characters of A-Z a-z 0-9 - _)", truncate(widgetID, 40)))
	}
	if c.ttl < time.Second || c.ttl > maxTTL {
		errs = append(errs, fmt.Errorf("chatwidget: TTL %v is out of range; use WithTTL with a duration between 1s and 24h (minutes are typical)", c.ttl))
	}
	if c.maxFields < 0 {
		errs = append(errs, fmt.Errorf("chatwidget: custom fields size limit %d is negative; use WithMaxFieldsSize(0) to send no custom fields", c.maxFields))
	}
	if c.cacheBytes < 0 {
		errs = append(errs, fmt.Errorf("chatwidget: token cache budget %d is negative; use WithTokenCacheBytes(0) to turn the cache off", c.cacheBytes))
	}
	if c.maxToken < minMaxTokenSize || c.maxToken > maxMaxTokenSize {
		errs = append(errs, fmt.Errorf("chatwidget: token size limit %d is out of range; use WithMaxTokenSize with %d to %d bytes (a typical token takes about 1000)", c.maxToken, minMaxTokenSize, maxMaxTokenSize))
	}
	if c.logEvery < 0 {
		errs = append(errs, fmt.Errorf("chatwidget: log interval %v is negative; use WithLogInterval(0) to log every record", c.logEvery))
	}
	if strings.TrimSpace(c.embed) == "" {
		errs = append(errs, errors.New("chatwidget: embed template is empty; paste the vendor's embed code into WithEmbedTemplate"))
	}
	if signingMethods[c.alg] == nil {
		errs = append(errs, fmt.Errorf("chatwidget: algorithm %q is not supported; use RS256 (the default), PS256 or ES256", truncate(c.alg, 20)))
	}
	for i, pub := range c.published {
		if _, err := Thumbprint(pub); err != nil {
			errs = append(errs, fmt.Errorf("chatwidget: published key %d is a %s; publish RSA or P-256 ECDSA public keys", i+1, keyKind(pub)))
		} else if err := checkKey(pub, naturalAlg(pub, c.alg)); err != nil {
			errs = append(errs, fmt.Errorf("chatwidget: published key %d: %s", i+1, strings.TrimPrefix(err.Error(), "chatwidget: ")))
		}
	}
	for _, a := range c.audience {
		if a == "" {
			errs = append(errs, errors.New("chatwidget: WithAudience was given an empty audience; pass the value the vendor expects in aud"))
		}
	}
	if p := c.endpoints; p != "" && (!strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "//") || !endpointPath.MatchString(p) || strings.Contains(p, "?")) {
		errs = append(errs, fmt.Errorf("chatwidget: endpoints prefix %q must be a path that begins and ends with /, like /chatwidget/; or \"\" to turn the endpoints off", truncate(p, 40)))
	}
	errs = append(errs, checkRefresh(c.refresh, c.ttl, c.endpoints), checkMobile(c.mobile, widgetID))
	return errors.Join(errs...)
}

// truncate shortens s to its first n bytes, less the start of a rune cut
// there, and "…", for an error message or a log record.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
