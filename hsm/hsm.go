// Package hsm signs chatwidget tokens with a key held in a PKCS#11 token
// (a hardware security module, a smart card, a cloud HSM's PKCS#11 library,
// or SoftHSM), through [github.com/ThalesGroup/crypto11]. The private key
// never leaves the token: the site holds a PIN and a label, the token signs
// each digest, and nothing the site can read, log or leak is the key.
//
//	s, err := hsm.Open(hsm.Config{
//		Path:       "/usr/lib/softhsm/libsofthsm2.so", // the vendor's PKCS#11 module
//		TokenLabel: "web",
//		Pin:        os.Getenv("HSM_PIN"),
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer s.Close()
//	signer, err := s.Signer("chatwidget-rsa")
//	if err != nil {
//		log.Fatal(err)
//	}
//	mw, err := chatwidget.New("my-widget-id", chatwidget.KeySigner(signer), resolver)
//
// For ES256 pass chatwidget.WithAlgorithm(chatwidget.ES256) and the label of a
// P-256 key pair. The key pair must exist on the token, its private and public
// halves with the same label and the same non-empty CKA_ID, for instance made
// with OpenSC's pkcs11-tool:
//
//	pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label web \
//		--login --keypairgen --key-type rsa:2048 --label chatwidget-rsa --id 01 --usage-sign
//
// (--key-type EC:prime256v1 for ES256), or with crypto11's
// [crypto11.Context.GenerateRSAKeyPairWithLabel] through [Session.Context].
// Publish its public half with chatwidget's PublicKeyPEM.
//
// This is a module of its own because crypto11 needs cgo (CGO_ENABLED=1 and a
// C compiler) and loads the PKCS#11 module at run time; chatwidget itself
// needs neither.
package hsm

import (
	"crypto"
	"errors"
	"fmt"
	"os"

	"github.com/ThalesGroup/crypto11"
)

// Config says which PKCS#11 token to open.
type Config struct {
	// Path is the vendor's PKCS#11 module, a shared library: for SoftHSM on
	// Debian, /usr/lib/softhsm/libsofthsm2.so. Required.
	Path string
	// TokenLabel is the label of the token that holds the key, as given to
	// `softhsm2-util --init-token --label` or shown by
	// `pkcs11-tool --module PATH --list-token-slots`. Required.
	TokenLabel string
	// Pin is the token's user PIN. Read it from a secret store or the
	// environment, not from the source.
	Pin string
}

// A Session is a logged-in connection to a PKCS#11 token. Its signers may be
// used from many goroutines at once. Make one with [Open].
type Session struct {
	ctx   *crypto11.Context
	token string
}

// Open loads the PKCS#11 module at cfg.Path, finds the token labelled
// cfg.TokenLabel and logs in with cfg.Pin. Close the [Session] when the
// signers it gave are no longer used. Its errors never hold the PIN.
//
// PKCS#11 login belongs to the process, not to the session: while one Session
// on a token is open, Open on the same token succeeds whatever cfg.Pin is.
func Open(cfg Config) (*Session, error) {
	if cfg.Path == "" {
		return nil, errors.New("hsm: Config.Path is empty; set it to the token vendor's PKCS#11 module (for SoftHSM on Debian, /usr/lib/softhsm/libsofthsm2.so)")
	}
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("hsm: PKCS#11 module: %w; install the token vendor's library (for SoftHSM, `apt-get install softhsm2`)", err)
	}
	if cfg.TokenLabel == "" {
		return nil, errors.New("hsm: Config.TokenLabel is empty; set it to the token's label (`pkcs11-tool --module PATH --list-token-slots` shows it)")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Path, TokenLabel: cfg.TokenLabel, Pin: cfg.Pin})
	if err != nil {
		return nil, fmt.Errorf("hsm: open token %q with %s: %w; check the label (`pkcs11-tool --module %s --list-token-slots`) and the PIN", cfg.TokenLabel, cfg.Path, err, cfg.Path)
	}
	return &Session{ctx: ctx, token: cfg.TokenLabel}, nil
}

// Signer returns the key pair labelled label on the token as a
// [crypto.Signer], to pass to chatwidget.KeySigner. Its Sign asks the token to
// sign; its Public returns the public half (an *rsa.PublicKey or an
// *ecdsa.PublicKey). It is an error if no key pair, or more than one, has
// that label.
func (s *Session) Signer(label string) (crypto.Signer, error) {
	found, err := s.ctx.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("hsm: find key pair %q on token %q: %w", label, s.token, err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("hsm: token %q has no key pair labelled %q (a private key and a public key with that label and the same non-empty CKA_ID); list its keys with `pkcs11-tool --module PATH --token-label %s --login --list-objects`", s.token, label, s.token)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("hsm: token %q has %d key pairs labelled %q; give each key pair its own label", s.token, len(found), label)
}

// Context returns the crypto11 context of the session, for what this
// package does not wrap: generating a key pair, reading a key's attributes.
func (s *Session) Context() *crypto11.Context { return s.ctx }

// Close closes the session's connections to the token and unloads the
// PKCS#11 module once no other session uses it. Close it after the Middleware
// that signs through its signers: a closed session's signers fail, and the
// Middleware then serves visitors whose token is not cached the anonymous
// widget, with a log record.
func (s *Session) Close() error {
	return s.ctx.Close()
}
