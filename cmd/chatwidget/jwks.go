package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"os"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/internal/jwk"
)

func jwksCommand() *command {
	return &command{
		name:     "jwks",
		synopsis: "public.pem...",
		short:    "print the JWKS of public keys",
		doc: "Jwks prints the JSON Web Key Set (RFC 7517) of the given public keys, for a verifier\n" +
			"that looks keys up by the kid of the token: RSA keys with alg RS256, P-256 ECDSA keys\n" +
			"with alg ES256, each with use \"sig\" and its RFC 7638 thumbprint as kid. A key given\n" +
			"twice is listed once.",
		minArgs: 1,
		maxArgs: -1,
		setup: func(*flag.FlagSet) action {
			return func(e *env, args []string) error {
				set, err := jwks(args, e.warner("jwks"))
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", set)
				return err
			}
		},
	}
}

// jwks returns the indented JWKS of the public keys in the PEM files paths.
func jwks(paths []string, warn warnFunc) ([]byte, error) {
	var keys []jwk.Published
	seen := make(map[string]string) // kid → path
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		pub, err := chatwidget.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", p, trimPrefix(err.Error()))
		}
		kid, err := chatwidget.Thumbprint(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: a %s has no JWK here; use an RSA or P-256 ECDSA key", p, keyName(pub))
		}
		if first, ok := seen[kid]; ok {
			warn("%s is the same key as %s; listed once", p, first)
			continue
		}
		seen[kid] = p
		keys = append(keys, jwk.Published{Pub: pub, Kid: kid, Alg: defaultAlg(pub)})
	}
	b, err := jwk.Set(keys)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// defaultAlg is the algorithm a key is announced with: ES256 for an ECDSA
// key, RS256 for an RSA key.
func defaultAlg(pub crypto.PublicKey) string {
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		return chatwidget.ES256
	}
	return chatwidget.RS256
}
