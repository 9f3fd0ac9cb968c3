package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// verifyAlgs are the algorithms verify accepts: those the middleware signs
// with. "none" and the HMAC algorithms are refused whatever the token says.
var verifyAlgs = []string{chatwidget.RS256, chatwidget.PS256, chatwidget.ES256}

func verifyCommand() *command {
	return &command{
		name:     "verify",
		synopsis: "-pub public.pem [-leeway 30s] [token | -]",
		short:    "check a token and print its claims",
		doc: "Verify checks a token, given as the argument or on standard input when it is \"-\"\n" +
			"or not given, as the vendor would: an RS256, PS256 or ES256 signature by the public\n" +
			"key (PS256 with a salt as long as the hash, as RFC 7518 requires), exp and iat present\n" +
			"and current, \"name\" a non-empty string and \"isLoggedIn\" true. It prints the claims\n" +
			"as JSON and exits 0, or prints the reason and exits 1.",
		maxArgs: 1,
		setup: func(fs *flag.FlagSet) action {
			pubPath := fs.String("pub", "", "public key `file` (PEM \"PUBLIC KEY\", \"RSA PUBLIC KEY\" or \"CERTIFICATE\")")
			leeway := fs.Duration("leeway", 30*time.Second, "clock skew allowed when checking exp and iat")
			return func(e *env, args []string) error {
				if err := required([2]string{"pub", *pubPath}); err != nil {
					return err
				}
				if *leeway < 0 {
					return usagef("-leeway %v is negative", *leeway)
				}
				return verify(e, *pubPath, arg(args, 0), *leeway)
			}
		},
	}
}

func verify(e *env, pubPath, tokenArg string, leeway time.Duration) error {
	pemBytes, err := os.ReadFile(pubPath)
	if err != nil {
		return err
	}
	pub, err := chatwidget.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		return fmt.Errorf("%s: %s", pubPath, trimPrefix(err.Error()))
	}
	var tok string
	if tokenArg == "" || tokenArg == "-" {
		b, _, err := readInput(e, tokenArg)
		if err != nil {
			return err
		}
		tok = strings.TrimSpace(string(b))
	} else {
		tok = strings.TrimSpace(tokenArg)
	}
	if tok == "" {
		return errors.New("no token given")
	}
	claims, err := verifyToken(tok, pub, leeway)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(claims, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", out)
	return err
}

// verifyToken checks tok as the vendor would, against the public key pub,
// and returns its claims, numbers kept as they were written.
func verifyToken(tok string, pub crypto.PublicKey, leeway time.Duration) (jwt.MapClaims, error) {
	_, claims, err := verifySignature(tok, []verifyKey{{pub: pub}})
	if err != nil {
		return nil, err
	}
	v := jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(leeway))
	if err := v.Validate(claims); err != nil {
		return nil, err
	}
	if _, ok := claims["iat"]; !ok {
		return nil, errors.New("token is missing required claim: iat")
	}
	if err := checkIdentity(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// checkIdentity reports whether claims hold what the widget needs to know
// the visitor: a non-empty name and isLoggedIn true.
func checkIdentity(claims jwt.MapClaims) error {
	name, ok := claims["name"]
	if !ok {
		return errors.New("missing claim name")
	}
	if s, _ := name.(string); s == "" {
		return fmt.Errorf("claim name is %s, not a non-empty string", claimJSON(name))
	}
	if claims["isLoggedIn"] != true {
		return fmt.Errorf("claim isLoggedIn is %s, not true", claimJSON(claims["isLoggedIn"]))
	}
	return nil
}

// A verifyKey is a public key that a token may be verified with: a bare key
// from a PEM file, which verifies whatever the token's kid with any algorithm
// it suits, or a key of a key set, which verifies only tokens that carry its
// kid (or none) and, when the set names one, only its alg.
type verifyKey struct {
	pub      crypto.PublicKey
	inSet    bool
	kid, alg string // of a key in a set
}

// verifySignature checks the signature of tok with one of keys and returns
// the token and its claims, numbers kept as they were written, without
// validating them. Only RS256, PS256 and ES256 are accepted, and PS256 only
// with the salt length of RFC 7518.
func verifySignature(tok string, keys []verifyKey) (*jwt.Token, jwt.MapClaims, error) {
	p := jwt.NewParser(jwt.WithValidMethods(verifyAlgs), jwt.WithJSONNumber(), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	t, err := p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		return pickKey(t, keys)
	})
	if err != nil {
		return t, nil, withKidHint(err, t, keys)
	}
	return t, claims, nil
}

// pickKey returns the key, or the keys, of keys that may verify t.
func pickKey(t *jwt.Token, keys []verifyKey) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var (
		cands    []crypto.PublicKey
		firstErr error
	)
	for _, k := range keys {
		if k.inSet && kid != "" && k.kid != kid {
			continue
		}
		if err := k.suits(alg); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		cands = append(cands, k.pub)
	}
	switch {
	case len(cands) == 0 && firstErr != nil:
		return nil, firstErr
	case len(cands) == 0:
		return nil, fmt.Errorf("the key set has no key with kid %q (it has %s)", kid, kids(keys))
	case alg == chatwidget.PS256:
		return pssKey(t, cands)
	case len(cands) == 1:
		return cands[0], nil
	}
	return jwt.VerificationKeySet{Keys: verificationKeys(cands)}, nil
}

// suits reports whether k may verify a token signed with alg.
func (k verifyKey) suits(alg string) error {
	if k.inSet && k.alg != "" && k.alg != alg {
		return fmt.Errorf("the key %q of the key set is announced for %s, not for the token's %s; publish it with alg %s (chatwidget jwks -alg %s)", k.kid, k.alg, alg, alg, alg)
	}
	if _, err := keyFor(alg, k.pub); err != nil {
		if k.inSet {
			return fmt.Errorf("token is signed with %s, which the key %q of the key set, a %s, cannot verify", alg, k.kid, keyName(k.pub))
		}
		return err
	}
	return nil
}

// kids lists the kids of a key set for a message.
func kids(keys []verifyKey) string {
	if len(keys) == 0 {
		return "no keys"
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if k.kid == "" {
			b.WriteString("a key without kid")
		} else {
			fmt.Fprintf(&b, "%q", k.kid)
		}
	}
	return b.String()
}

// verificationKeys converts keys for jwt.VerificationKeySet.
func verificationKeys(keys []crypto.PublicKey) []jwt.VerificationKey {
	out := make([]jwt.VerificationKey, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// errPSSSalt is the failure of a PS256 signature that is valid but whose
// salt is not as long as the hash.
var errPSSSalt = errors.New("the PS256 signature's salt is not 32 bytes long, the SHA-256 length that RFC 7518 requires, so openssl, jose and jsonwebtoken reject it; sign with the salt length equal to the hash length (openssl: -sigopt rsa_pss_saltlen:digest)")

// pssKey returns the key of cands that verifies the PS256 signature of t with
// a salt as long as the SHA-256 hash, as RFC 7518 (section 3.5) requires;
// golang-jwt's own PS256 accepts any salt length. A signature that only a
// salt of another length explains is errPSSSalt; one that no key verifies is
// left to the parser to report.
func pssKey(t *jwt.Token, cands []crypto.PublicKey) (any, error) {
	i := strings.LastIndexByte(t.Raw, '.')
	digest := sha256.Sum256([]byte(t.Raw[:i]))
	strict := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	for _, k := range cands {
		if rsa.VerifyPSS(k.(*rsa.PublicKey), crypto.SHA256, digest[:], t.Signature, strict) == nil {
			return k, nil
		}
	}
	lenient := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}
	for _, k := range cands {
		if rsa.VerifyPSS(k.(*rsa.PublicKey), crypto.SHA256, digest[:], t.Signature, lenient) == nil {
			return nil, errPSSSalt
		}
	}
	return cands[0], nil
}

// keyFor returns pub if it is the kind of key alg verifies with.
func keyFor(alg string, pub crypto.PublicKey) (any, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg == chatwidget.RS256 || alg == chatwidget.PS256 {
			return k, nil
		}
	case *ecdsa.PublicKey:
		if alg == chatwidget.ES256 && k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("token is signed with %s, which the given %s cannot verify", alg, keyName(pub))
}

// keyName describes a public key for messages.
func keyName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("%d-bit RSA key", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name + " key"
	}
	return fmt.Sprintf("%T key", pub)
}

// withKidHint adds to a signature failure with a single bare key that the
// token names another key.
func withKidHint(err error, t *jwt.Token, keys []verifyKey) error {
	if t == nil || len(keys) != 1 || keys[0].inSet || !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return err
	}
	kid, _ := t.Header["kid"].(string)
	want, terr := chatwidget.Thumbprint(keys[0].pub)
	if kid == "" || terr != nil || kid == want {
		return err
	}
	return fmt.Errorf("%w (the token's kid %q is not this key's %q: was it signed by another key?)", err, kid, want)
}

// claimJSON shows a claim's value for a message.
func claimJSON(v any) string {
	if v == nil {
		return "missing or null"
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > 40 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}
