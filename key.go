package chatwidget

import (
	"crypto/ecdsa"
	"crypto/ed25519"
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

// A Key is where a [Middleware] gets the RSA private key it signs tokens with:
// [KeyPEM], [KeyFile] or [KeyRSA]. The key is loaded and checked by [New].
type Key struct {
	load func() (*rsa.PrivateKey, error)
}

// KeyPEM returns a [Key] read from PEM bytes: a PKCS#1 "RSA PRIVATE KEY" block
// (OpenSSL 1.x genrsa) or a PKCS#8 "PRIVATE KEY" block (OpenSSL 3 genrsa).
func KeyPEM(pemBytes []byte) Key {
	b := append([]byte(nil), pemBytes...)
	return Key{load: func() (*rsa.PrivateKey, error) { return parsePrivateKeyPEM(b) }}
}

// KeyFile returns a [Key] read from the PEM file at path when [New] is called.
// The file holds what [KeyPEM] accepts.
func KeyFile(path string) Key {
	return Key{load: func() (*rsa.PrivateKey, error) {
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
	return Key{load: func() (*rsa.PrivateKey, error) {
		if k == nil {
			return nil, errors.New("chatwidget: KeyRSA was given a nil key; " + genrsa)
		}
		return k, checkRSA(k)
	}}
}

// PublicKeyPEM returns the public half of the middleware's key as a PEM
// "PUBLIC KEY" block (PKIX, what `openssl rsa -pubout` writes): the text to
// paste into the vendor's settings.
func (m *Middleware) PublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&m.signer.key.PublicKey)
	if err != nil {
		panic("chatwidget: an RSA public key does not marshal: " + err.Error()) // cannot happen for an RSA key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// parsePrivateKeyPEM finds the first key block in b and parses it. Its errors
// name the block type, never its bytes.
func parsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
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

func parseKeyBlock(block *pem.Block) (*rsa.PrivateKey, error) {
	if _, ok := block.Headers["DEK-Info"]; ok || block.Headers["Proc-Type"] == "4,ENCRYPTED" || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("chatwidget: key is encrypted with a passphrase; the server needs it unencrypted: `openssl pkey -in private.pem -out private-plain.pem`, then keep that file readable by the server only")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: key is not a valid PKCS#1 RSA private key (%v); %s", err, genrsa)
		}
		return k, checkRSA(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("chatwidget: key is not a valid PKCS#8 private key (%v); %s", err, genrsa)
		}
		return asRSA(k)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("chatwidget: key is a %s, not a private key; the server signs with private.pem, and public.pem goes into the vendor's settings", block.Type)
	case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, fmt.Errorf("chatwidget: key is an %s; the vendor verifies RS256, so it must be RSA: %s", block.Type, genrsa)
	default:
		return nil, fmt.Errorf("chatwidget: key PEM block is %q, not a private key; %s", block.Type, genrsa)
	}
}

func asRSA(k any) (*rsa.PrivateKey, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, checkRSA(k)
	case *ecdsa.PrivateKey:
		return nil, errors.New("chatwidget: key is an ECDSA key; the vendor verifies RS256, so it must be RSA: " + genrsa)
	case ed25519.PrivateKey:
		return nil, errors.New("chatwidget: key is an Ed25519 key; the vendor verifies RS256, so it must be RSA: " + genrsa)
	default:
		return nil, fmt.Errorf("chatwidget: key is a %T, not RSA; %s", k, genrsa)
	}
}

func checkRSA(k *rsa.PrivateKey) error {
	if bits := k.N.BitLen(); bits < MinKeyBits {
		return fmt.Errorf("chatwidget: key is %d bits, under the %d the vendor requires; %s", bits, MinKeyBits, genrsa)
	}
	if err := k.Validate(); err != nil {
		return errors.New("chatwidget: key fails RSA validation (its parts do not belong together); " + genrsa)
	}
	return nil
}
