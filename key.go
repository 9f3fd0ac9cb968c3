package chatwidget

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MinKeyBits is the smallest RSA key [New] accepts.
const MinKeyBits = 2048

// genrsa is the command every key error points to.
const genrsa = "generate one with `openssl genrsa -out private.pem 2048`"

// A Key is where a [Middleware] gets the private key it signs tokens with:
// [KeyPEM], [KeyFile], [KeyRSA] or [KeySigner]. The key is loaded and
// checked against the algorithm ([WithAlgorithm], RS256 by default) by [New].
type Key struct {
	load func() (crypto.Signer, error)
}

// KeyPEM returns a [Key] read from PEM bytes: a PKCS#1 "RSA PRIVATE KEY" block
// (OpenSSL 1.x genrsa) or a PKCS#8 "PRIVATE KEY" block (OpenSSL 3 genrsa),
// or, for ES256, an "EC PRIVATE KEY" or PKCS#8 P-256 key.
func KeyPEM(pemBytes []byte) Key {
	b := append([]byte(nil), pemBytes...)
	return Key{load: func() (crypto.Signer, error) { return parsePrivateKeyPEM(b) }}
}

// KeyFile returns a [Key] read from the PEM file at path when [New] is called.
// The file holds what [KeyPEM] accepts.
func KeyFile(path string) Key {
	return Key{load: func() (crypto.Signer, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: read key file: %w", err)
		}
		k, err := parsePrivateKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%w (file %s)", err, path)
		}
		return k, nil
	}}
}

// KeyRSA returns a [Key] that is k itself.
func KeyRSA(k *rsa.PrivateKey) Key {
	return Key{load: func() (crypto.Signer, error) {
		if k == nil {
			return nil, errors.New("chatwidget: KeyRSA was given a nil key; " + genrsa)
		}
		return k, nil
	}}
}

// KeySigner returns a [Key] that signs through s: a key in a KMS or an HSM
// (for instance a PKCS#11 token through github.com/ThalesGroup/crypto11)
// never leaves it. s.Public() must be an RSA key of at least 2048 bits for
// RS256 and PS256, or a P-256 ECDSA key for ES256. The middleware calls
// s.Sign once per visitor per half TTL (see [WithTokenCacheBytes]), from many
// goroutines at once.
func KeySigner(s crypto.Signer) Key {
	return Key{load: func() (crypto.Signer, error) {
		if s == nil {
			return nil, errors.New("chatwidget: KeySigner was given a nil signer; pass the crypto.Signer of your KMS or HSM key")
		}
		return s, nil
	}}
}

// PublicKeyPEM returns the public half of the middleware's signing key as a
// PEM "PUBLIC KEY" block (PKIX, what `openssl rsa -pubout` writes): the text
// to paste into the vendor's settings.
func (m *Middleware) PublicKeyPEM() []byte {
	return publicKeyPEM(m.signer.key.Public())
}

// publicKeyPEM encodes a public key the middleware accepted.
func publicKeyPEM(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("chatwidget: an accepted public key does not marshal: " + err.Error()) // New checked its type
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKeyPEM parses the first public key in b: a PKIX "PUBLIC KEY"
// block (`openssl rsa -pubout`), a PKCS#1 "RSA PUBLIC KEY" block, or a
// "CERTIFICATE" whose key is taken.
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("chatwidget: public key holds no PEM block; pass public.pem, made with `openssl rsa -in private.pem -pubout -out public.pem`")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: public key is not valid PKIX (%v)", err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: public key is not valid PKCS#1 (%v)", err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: certificate does not parse (%v)", err)
		}
		return c.PublicKey, nil
	}
	if isPrivateBlock(block.Type) {
		return nil, errors.New("chatwidget: a private key was given where the public key belongs; pass public.pem (`openssl rsa -in private.pem -pubout -out public.pem`) and keep private.pem secret")
	}
	return nil, fmt.Errorf("chatwidget: PEM block is %q, not a public key", block.Type)
}

func isPrivateBlock(t string) bool {
	switch t {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return true
	}
	return false
}

// parsePrivateKeyPEM finds the first key block in b and parses it. Its errors
// name the block type, never its bytes.
func parsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("chatwidget: key holds no PEM block; pass the contents of private.pem, the file that begins with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- (" + genrsa + ")")
		}
		if block.Type == "EC PARAMETERS" {
			continue // openssl ecparam writes these before the key
		}
		return parseKeyBlock(block)
	}
}

func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	if _, ok := block.Headers["DEK-Info"]; ok || block.Headers["Proc-Type"] == "4,ENCRYPTED" || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("chatwidget: key is encrypted with a passphrase; the server needs it unencrypted: `openssl pkey -in private.pem -out private-plain.pem`, then keep that file readable by the server only")
	}
	var k any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		if k, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("chatwidget: key is not a valid PKCS#1 RSA private key (%v); %s", err, genrsa)
		}
	case "PRIVATE KEY":
		if k, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("chatwidget: key is not a valid PKCS#8 private key (%v); %s", err, genrsa)
		}
	case "EC PRIVATE KEY":
		if k, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("chatwidget: key is not a valid EC private key (%v)", err)
		}
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("chatwidget: key is a %s, not a private key; the server signs with private.pem, and public.pem goes into the vendor's settings", block.Type)
	case "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, fmt.Errorf("chatwidget: key is an %s; the vendor verifies RS256, so it must be RSA: %s", block.Type, genrsa)
	default:
		return nil, fmt.Errorf("chatwidget: key PEM block is %q, not a private key; %s", block.Type, genrsa)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("chatwidget: key is a %T, which cannot sign; %s", k, genrsa)
	}
	return s, nil
}

// checkSigner checks a loaded key for alg; an in-memory RSA key must also
// hold together.
func checkSigner(s crypto.Signer, alg string) error {
	if err := checkKey(s.Public(), alg); err != nil {
		return err
	}
	if k, ok := s.(*rsa.PrivateKey); ok && k.Validate() != nil {
		return errors.New("chatwidget: key fails RSA validation (its parts do not belong together); " + genrsa)
	}
	return nil
}
