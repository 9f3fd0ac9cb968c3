package chatwidget

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// The signing algorithms [WithAlgorithm] accepts.
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256: what the vendor expects by default
	PS256 = "PS256" // RSASSA-PSS with SHA-256
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
)

// signingMethod is a golang-jwt signing method that signs through a
// crypto.Signer, so that a key held in a KMS or an HSM never leaves it. It
// verifies as golang-jwt's own method of the same name does. It is passed to
// jwt.NewWithClaims and never registered in jwt's global table.
type signingMethod struct {
	alg    string
	std    jwt.SigningMethod // verifies
	pss    bool
	ecSize int // bytes of r and of s for ECDSA; 0 for RSA
}

var signingMethods = map[string]*signingMethod{
	RS256: {alg: RS256, std: jwt.SigningMethodRS256},
	PS256: {alg: PS256, std: jwt.SigningMethodPS256, pss: true},
	ES256: {alg: ES256, std: jwt.SigningMethodES256, ecSize: 32},
}

func (m *signingMethod) Alg() string { return m.alg }

// Verify checks sig with the public key, as golang-jwt does.
func (m *signingMethod) Verify(signingString string, sig []byte, key any) error {
	return m.std.Verify(signingString, sig, key)
}

// Sign hashes signingString with SHA-256 and signs the digest with key, a
// crypto.Signer.
func (m *signingMethod) Sign(signingString string, key any) ([]byte, error) {
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s sign expects a crypto.Signer, not %T", m.alg, key)
	}
	digest := sha256.Sum256([]byte(signingString))
	var opts crypto.SignerOpts = crypto.SHA256
	if m.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := s.Sign(rand.Reader, digest[:], opts)
	if err != nil || m.ecSize == 0 {
		return sig, err
	}
	return ecdsaRaw(sig, m.ecSize)
}

// ecdsaRaw turns an ASN.1 ECDSA signature, as crypto.Signer returns it,
// into the fixed-size r || s form of JWS (RFC 7518, 3.4).
func ecdsaRaw(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, errors.New("ECDSA signer returned a malformed signature")
	}
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("ECDSA signer returned a signature out of range")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// checkKey reports whether pub suits alg, with what to do if not.
func checkKey(pub crypto.PublicKey, alg string) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg == ES256 {
			return errors.New("chatwidget: key is RSA but the algorithm is ES256; pass an ECDSA P-256 key (`openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out private.pem`) or use RS256")
		}
		if bits := k.N.BitLen(); bits < MinKeyBits {
			return fmt.Errorf("chatwidget: key is %d bits, under the %d the vendor requires; %s", bits, MinKeyBits, genrsa)
		}
	case *ecdsa.PublicKey:
		if alg != ES256 {
			return fmt.Errorf("chatwidget: key is an ECDSA key; the vendor verifies %s, so it must be RSA: %s (or use WithAlgorithm(ES256) if your vendor accepts ES256)", alg, genrsa)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("chatwidget: key is on %s; ES256 needs P-256 (prime256v1)", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("chatwidget: key is a %s, which no supported algorithm signs with; %s", keyKind(pub), genrsa)
	}
	return nil
}

// naturalAlg is the algorithm a published key is announced with: alg if the
// key suits it, else the default for its type.
func naturalAlg(pub crypto.PublicKey, alg string) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return ES256
	case *rsa.PublicKey:
		if alg == PS256 {
			return PS256
		}
	}
	return RS256
}

// keyKind names a public key's type for an error message.
func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case ed25519.PublicKey:
		return "Ed25519 key"
	case nil:
		return "nil key"
	}
	return fmt.Sprintf("%T", pub)
}
