package widgetsim

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Sim is the stand-in vendor: it serves the widget and verifies tokens with
// the public key pasted into its settings. Make one with [New]; it is safe
// for concurrent use.
type Sim struct {
	prefix string
	skew   time.Duration
	now    func() time.Time

	keys   keySet
	parser *jwt.Parser
	jsHead string // the widget script up to its configuration
}

// New returns a Sim that verifies tokens with publicKeyPEM, the PKIX
// "PUBLIC KEY" PEM block of an RSA key of at least 2048 bits (what
// (*chatwidget.Middleware).PublicKeyPEM returns), as pasted into the
// vendor's settings.
//
// New reports every problem at once, each with what to do: an empty or
// garbled PEM, a private key, a PKCS#1 "RSA PUBLIC KEY" block, a key that is
// not RSA or is too small, a bad prefix or a negative skew. publicKeyPEM
// may hold several PUBLIC KEY blocks (chatwidget's PublishedKeysPEM during a
// rotation): tokens verify with the key their kid names.
func New(publicKeyPEM []byte, opts ...Option) (*Sim, error) {
	s := &Sim{prefix: DefaultPrefix, skew: DefaultSkew, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	pubs, keyErr := parsePublishedKeysPEM(publicKeyPEM)
	if err := errors.Join(keyErr, s.validate()); err != nil {
		return nil, err
	}
	s.keys = newKeySet(pubs)
	s.jsHead = scriptHead()
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithLeeway(s.skew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithJSONNumber(), // claims go back as sent, big numbers included
	)
	return s, nil
}

// Handler returns the handler of the Sim's endpoints, all under the prefix
// (see [WithPrefix]): GET {prefix}embed/{widgetID}.js and POST
// {prefix}verify. Mount it at the prefix, e.g. mux.Handle("/widgetsim/",
// sim.Handler()). Any other path gets 404; a wrong method gets 405 with an
// Allow header.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == "verify":
		s.serveVerify(w, r)
	case strings.HasPrefix(rest, "embed/"):
		s.serveEmbed(w, r, strings.TrimPrefix(rest, "embed/"))
	default:
		http.NotFound(w, r)
	}
}
