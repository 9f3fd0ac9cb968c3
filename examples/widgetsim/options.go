package widgetsim

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultPrefix is the path under which [Sim.Handler] serves when
// [WithPrefix] is not given.
const DefaultPrefix = "/widgetsim/"

// DefaultSkew is the clock skew [Sim] tolerates when [WithSkew] is not given.
const DefaultSkew = 30 * time.Second

// An Option configures a [Sim]. Options are applied in order by [New], which
// then validates the result as a whole.
type Option func(*Sim)

// WithPrefix sets the path under which [Sim.Handler] serves the widget and
// the verify endpoint, and which the templates point to. It must start and
// end with "/" and hold only clean segments of A-Z a-z 0-9 . _ ~ -, so that it
// is safe in an HTML attribute and matches cleaned request paths.
// Default: [DefaultPrefix] ("/widgetsim/").
func WithPrefix(p string) Option {
	return func(s *Sim) { s.prefix = p }
}

// WithSkew sets how far the clocks of the site and the vendor may disagree:
// a token expired by less than d, or issued less than d in the future, is
// accepted (the jwt leeway); the widget checks its token again once the
// token's exp and d have passed. It must not be negative. Default:
// [DefaultSkew] (30s).
func WithSkew(d time.Duration) Option {
	return func(s *Sim) { s.skew = d }
}

// WithClock sets the clock the verify endpoint checks exp, nbf and iat
// against, for tests. Default: [time.Now]; nil means the default.
func WithClock(now func() time.Time) Option {
	return func(s *Sim) {
		if now == nil {
			now = time.Now
		}
		s.now = now
	}
}

// prefixPattern is the set of prefixes [WithPrefix] accepts: "/" or clean
// segments of unreserved URL characters, each followed by "/".
var prefixPattern = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)*$`)

// validate returns every problem with the options, joined.
func (s *Sim) validate() error {
	var errs []error
	if !prefixPattern.MatchString(s.prefix) || hasDotSegment(s.prefix) {
		errs = append(errs, fmt.Errorf("widgetsim: prefix %q must start and end with \"/\" and hold only A-Z a-z 0-9 . _ ~ - between them, with no . or .. segment; for instance %q", s.prefix, DefaultPrefix))
	}
	if s.skew < 0 {
		errs = append(errs, fmt.Errorf("widgetsim: skew %v is negative; give 0 for none or a small duration such as %v", s.skew, DefaultSkew))
	}
	return errors.Join(errs...)
}

// hasDotSegment reports whether the path p has a "." or ".." segment, which
// a cleaned request path never has.
func hasDotSegment(p string) bool {
	return slices.ContainsFunc(strings.Split(p, "/"), func(seg string) bool {
		return seg == "." || seg == ".."
	})
}
