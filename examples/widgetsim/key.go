package widgetsim

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// minKeyBits is the smallest RSA key the vendor accepts, as chatwidget
// signs with.
const minKeyBits = 2048

// pubout is the command every key error points to.
const pubout = "paste the PUBLIC KEY block that (*chatwidget.Middleware).PublicKeyPEM returns, or the output of `openssl rsa -in private.pem -pubout`"

// errUnknownKey is what the key function returns for a kid that is not in
// the key set; the verify endpoint reports it as "signature invalid".
var errUnknownKey = errors.New("widgetsim: no key with this kid")

// keySet is the public keys the vendor verifies tokens with, by key ID (kid
// header): every key pasted into the settings (during a rotation, the
// current and the next or previous one), each under its RFC 7638 JWK
// thumbprint (chatwidget's default kid). The first key also serves tokens
// without a kid.
type keySet struct {
	byID map[string]*rsa.PublicKey
	def  *rsa.PublicKey // for tokens without a kid
}

// newKeySet returns the key set of the pasted keys, the first the default.
func newKeySet(pubs []*rsa.PublicKey) keySet {
	ks := keySet{byID: make(map[string]*rsa.PublicKey, len(pubs)), def: pubs[0]}
	for _, p := range pubs {
		ks.byID[thumbprint(p)] = p
	}
	return ks
}

// keyFunc is the jwt.Keyfunc that picks the key by the token's kid header.
func (ks keySet) keyFunc(t *jwt.Token) (any, error) {
	kid, present := t.Header["kid"]
	if !present {
		return ks.def, nil
	}
	s, ok := kid.(string)
	if !ok {
		return nil, errUnknownKey
	}
	if k := ks.byID[s]; k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

// thumbprint returns the RFC 7638 JWK thumbprint of pub: the base64url
// SHA-256 of its canonical JWK, members in lexical order, no whitespace.
func thumbprint(pub *rsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	e := b64(big.NewInt(int64(pub.E)).Bytes())
	jwk, _ := json.Marshal(struct {
		E   string `json:"e"`
		Kty string `json:"kty"`
		N   string `json:"n"`
	}{e, "RSA", b64(pub.N.Bytes())})
	sum := sha256.Sum256(jwk)
	return b64(sum[:])
}

// parsePublishedKeysPEM parses one or more PKIX "PUBLIC KEY" blocks of RSA
// keys of at least minKeyBits (what PublicKeyPEM or PublishedKeysPEM of
// chatwidget return), and nothing else: no private key.
func parsePublishedKeysPEM(b []byte) ([]*rsa.PublicKey, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("widgetsim: the public key PEM is empty; " + pubout)
	}
	var keys []*rsa.PublicKey
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		k, err := parsePublicKeyBlock(block)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("widgetsim: no PEM block in the public key; " + pubout)
	}
	return keys, nil
}

// parsePublicKeyBlock parses one PEM block that must be an RSA PUBLIC KEY.
func parsePublicKeyBlock(block *pem.Block) (*rsa.PublicKey, error) {
	if err := checkBlock(block); err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("widgetsim: cannot parse the PUBLIC KEY block: %w; %s", err, pubout)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("widgetsim: the public key is %T, not RSA; the vendor verifies RS256 only; generate an RSA key with `openssl genrsa -out private.pem 2048`", k)
	}
	if n := rk.N.BitLen(); n < minKeyBits {
		return nil, fmt.Errorf("widgetsim: the public key is %d bits, fewer than %d; generate a new key with `openssl genrsa -out private.pem 2048`", n, minKeyBits)
	}
	return rk, nil
}

// checkBlock rejects a PEM block that is not a "PUBLIC KEY".
func checkBlock(block *pem.Block) error {
	switch block.Type {
	case "PUBLIC KEY":
	case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY":
		return fmt.Errorf("widgetsim: got a private key (PEM block %q); never paste it into a vendor's settings: %s", block.Type, pubout)
	case "RSA PUBLIC KEY":
		return errors.New("widgetsim: got a PKCS#1 \"RSA PUBLIC KEY\" block; the vendor takes PKIX: convert it with `openssl rsa -RSAPublicKey_in -in key.pem -pubout`, or " + pubout)
	default:
		return fmt.Errorf("widgetsim: got a PEM block %q, want \"PUBLIC KEY\"; %s", block.Type, pubout)
	}
	return nil
}
