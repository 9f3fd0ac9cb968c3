package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/chatwidget/chatwidget"
	"github.com/chatwidget/chatwidget/internal/jwk"
)

func jwksCommand() *command {
	return &command{
		name:     "jwks",
		synopsis: "[-alg RS256|PS256|ES256]... [-kid ID]... public.pem...",
		short:    "print the JWKS of public keys",
		doc: "Jwks prints the JSON Web Key Set (RFC 7517) of the given public keys, for a verifier\n" +
			"that looks keys up by the kid of the token, each key with use \"sig\", its alg and its kid.\n" +
			"A verifier uses a key only for its alg, so announce each key with the algorithm the\n" +
			"middleware signs with (WithAlgorithm): by default RS256 for an RSA key and ES256 for\n" +
			"a P-256 ECDSA key; -alg PS256 for an RSA key that signs PS256. The kid is by default\n" +
			"the key's RFC 7638 thumbprint, the default of the middleware; give -kid when the\n" +
			"middleware has WithKeyID (-kid \"\" for none, as WithKeyID(\"\")).\n" +
			"\n" +
			"-alg is given once for all the keys, or once per key in the order of the files. A kid\n" +
			"names one key, so -kid is given once per key, in the order of the files. A key given\n" +
			"twice with the same alg and kid is listed once; two entries with the same kid are an\n" +
			"error, since a verifier could not tell them apart.",
		minArgs: 1,
		maxArgs: -1,
		setup: func(fs *flag.FlagSet) action {
			var algs, kids listFlag
			fs.Func("alg", "algorithm `ALG` the keys are announced with: RS256, PS256 or ES256 (repeatable, see above)", func(s string) error {
				if !slices.Contains(verifyAlgs, s) {
					return fmt.Errorf("%q is not one of %s", s, strings.Join(verifyAlgs, ", "))
				}
				algs = append(algs, s)
				return nil
			})
			fs.Func("kid", "key `ID` of the next key, in the order of the files (repeatable, see above)", func(s string) error {
				kids = append(kids, s)
				return nil
			})
			return func(e *env, args []string) error {
				if n := len(algs); n > 1 && n != len(args) {
					return usagef("-alg is given %s for %d keys; give it once for all the keys or once per key", times(n), len(args))
				}
				if n := len(kids); n > 0 && n != len(args) {
					return usagef("-kid is given %s for %d keys; give it once per key, in the order of the files", times(n), len(args))
				}
				set, err := jwks(args, algs, kids, e.warner("jwks"))
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", set)
				return err
			}
		},
	}
}

// times says how often a flag is given, for messages.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// listFlag collects the values of a repeated flag.
type listFlag []string

// at returns the value for the i-th key: the only one, the i-th, or "" with
// ok false when none was given.
func (l listFlag) at(i int) (v string, ok bool) {
	switch len(l) {
	case 0:
		return "", false
	case 1:
		return l[0], true
	}
	return l[i], true
}

// jwks returns the indented JWKS of the public keys in the PEM files paths,
// announced with algs and kids as the jwks command describes.
func jwks(paths []string, algs, kids listFlag, warn warnFunc) ([]byte, error) {
	var keys []jwk.Published
	type entry struct{ thumb, alg, path string }
	seen := make(map[string]entry) // kid → the entry that has it
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		pub, err := chatwidget.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", p, trimPrefix(err.Error()))
		}
		thumb, err := chatwidget.Thumbprint(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: a %s has no JWK here; use an RSA or P-256 ECDSA key", p, keyName(pub))
		}
		alg, ok := algs.at(i)
		if !ok {
			alg = defaultAlg(pub)
		}
		if _, err := keyFor(alg, pub); err != nil {
			return nil, fmt.Errorf("%s: -alg %s does not suit this %s; use -alg %s", p, alg, keyName(pub), suitedAlgs(pub))
		}
		kid, ok := kids.at(i)
		if !ok {
			kid = thumb
		}
		if first, ok := seen[kid]; ok {
			if first.thumb == thumb && first.alg == alg {
				warn("%s is the same key as %s, with the same alg and kid; listed once", p, first.path)
				continue
			}
			return nil, fmt.Errorf("%s and %s both have kid %q; give each its own -kid", first.path, p, kid)
		}
		seen[kid] = entry{thumb, alg, p}
		keys = append(keys, jwk.Published{Pub: pub, Kid: kid, Alg: alg})
	}
	b, err := jwk.Set(keys)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// defaultAlg is the algorithm a key is announced with when -alg is not
// given: ES256 for an ECDSA key, RS256 for an RSA key.
func defaultAlg(pub crypto.PublicKey) string {
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		return chatwidget.ES256
	}
	return chatwidget.RS256
}

// suitedAlgs names the algorithms a key may be announced with.
func suitedAlgs(pub crypto.PublicKey) string {
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		return chatwidget.ES256
	}
	return chatwidget.RS256 + " or " + chatwidget.PS256
}
