package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chatwidget/chatwidget"
)

// maxKeyBits bounds -bits: larger keys take minutes to make and every
// signature gets slower.
const maxKeyBits = 16384

func keygenCommand() *command {
	return &command{
		name:     "keygen",
		synopsis: "[-bits 2048] [-dir .] [-force]",
		short:    "make an RSA key pair: private.pem and public.pem",
		doc: "Keygen makes an RSA key pair: private.pem (PKCS#8 \"PRIVATE KEY\", mode 0600, as\n" +
			"`openssl genrsa` writes it; it stays on the server) and public.pem (PKIX \"PUBLIC KEY\",\n" +
			"as `openssl rsa -pubout` writes it; it goes into the vendor's settings). It prints the\n" +
			"paths and the key ID (kid, the RFC 7638 thumbprint the tokens carry), and never\n" +
			"overwrites a file unless -force is given.",
		maxArgs: 0,
		setup: func(fs *flag.FlagSet) action {
			bits := fs.Int("bits", chatwidget.MinKeyBits, fmt.Sprintf("key size in bits, %d to %d", chatwidget.MinKeyBits, maxKeyBits))
			dir := fs.String("dir", ".", "directory to write private.pem and public.pem to")
			force := fs.Bool("force", false, "overwrite existing files")
			return func(e *env, _ []string) error {
				if *bits < chatwidget.MinKeyBits || *bits > maxKeyBits {
					return usagef("-bits %d is out of range; use %d to %d (%d is what vendors expect)", *bits, chatwidget.MinKeyBits, maxKeyBits, chatwidget.MinKeyBits)
				}
				return keygen(e, *bits, *dir, *force)
			}
		},
	}
}

func keygen(e *env, bits int, dir string, force bool) error {
	priv := filepath.Join(dir, "private.pem")
	pub := filepath.Join(dir, "public.pem")
	if !force {
		// Check both before writing either, so that a refusal leaves nothing behind.
		for _, p := range []string{priv, pub} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists; move it away or pass -force to overwrite it", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	kid, err := chatwidget.Thumbprint(&k.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(priv, "PRIVATE KEY", privDER, 0o600, force); err != nil {
		return err
	}
	if err := writePEM(pub, "PUBLIC KEY", pubDER, 0o644, force); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "private key: %s\npublic key:  %s\nkid:         %s\n", priv, pub, kid)
	return nil
}

// writePEM writes one PEM block to path with the given mode, which it also
// sets on a file that -force overwrites. Without force an existing file is
// an error.
func writePEM(path, typ string, der []byte, mode os.FileMode, force bool) (err error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; move it away or pass -force to overwrite it", path)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := f.Chmod(mode); err != nil { // an existing file, or a umask
		return err
	}
	return pem.Encode(f, &pem.Block{Type: typ, Bytes: der})
}
