package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
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
			"key, exp and iat present and current, \"name\" a non-empty string and \"isLoggedIn\"\n" +
			"true. It prints the claims as JSON and exits 0, or prints the reason and exits 1.",
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

// verifyToken checks tok against pub and returns its claims, numbers kept
// as they were written.
func verifyToken(tok string, pub crypto.PublicKey, leeway time.Duration) (jwt.MapClaims, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods(verifyAlgs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	t, err := p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		return keyFor(t.Method.Alg(), pub)
	})
	if err != nil {
		return nil, withKidHint(err, t, pub)
	}
	if _, ok := claims["iat"]; !ok {
		return nil, errors.New("token is missing required claim: iat")
	}
	name, ok := claims["name"]
	if !ok {
		return nil, errors.New("missing claim name")
	}
	if s, _ := name.(string); s == "" {
		return nil, fmt.Errorf("claim name is %s, not a non-empty string", claimJSON(name))
	}
	if claims["isLoggedIn"] != true {
		return nil, fmt.Errorf("claim isLoggedIn is %s, not true", claimJSON(claims["isLoggedIn"]))
	}
	return claims, nil
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

// withKidHint adds to a signature failure that the token names another key.
func withKidHint(err error, t *jwt.Token, pub crypto.PublicKey) error {
	if t == nil || !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return err
	}
	kid, _ := t.Header["kid"].(string)
	want, terr := chatwidget.Thumbprint(pub)
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
