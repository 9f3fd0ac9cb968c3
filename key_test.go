package chatwidget

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysFromOpenSSL loads keys exactly as openssl writes them and refuses
// the wrong ones, each with its own error that never quotes the key.
func TestKeysFromOpenSSL(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "genrsa", "-out", "pkcs8.pem", "2048")
	openssl(t, dir, "genrsa", "-traditional", "-out", "pkcs1.pem", "2048")
	openssl(t, dir, "genrsa", "-out", "small.pem", "1024")
	openssl(t, dir, "genrsa", "-aes256", "-passout", "pass:secret", "-out", "encrypted.pem", "2048")
	openssl(t, dir, "genrsa", "-traditional", "-aes256", "-passout", "pass:secret", "-out", "encrypted1.pem", "2048")
	openssl(t, dir, "rsa", "-in", "pkcs8.pem", "-pubout", "-out", "public.pem")
	openssl(t, dir, "rsa", "-in", "pkcs8.pem", "-RSAPublicKey_out", "-out", "rsapublic.pem")
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.pem")
	openssl(t, dir, "genpkey", "-algorithm", "ed25519", "-out", "ed25519.pem")
	openssl(t, dir, "req", "-x509", "-new", "-key", "pkcs8.pem", "-subj", "/CN=shop.example", "-days", "1", "-out", "cert.pem")
	os.WriteFile(filepath.Join(dir, "garbage.pem"), []byte("this is not a key"), 0o600)

	tests := []struct {
		file, wantErr string
	}{
		{"pkcs8.pem", ""},
		{"pkcs1.pem", ""},
		{"small.pem", "key is 1024 bits"},
		{"encrypted.pem", "encrypted"},
		{"encrypted1.pem", "encrypted"},
		{"public.pem", "PUBLIC KEY, not a private key"},
		{"rsapublic.pem", "RSA PUBLIC KEY, not a private key"},
		{"cert.pem", "CERTIFICATE, not a private key"},
		{"ec.pem", "ECDSA key"},
		{"ed25519.pem", "Ed25519"},
		{"garbage.pem", "no PEM block"},
		{"missing.pem", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			for _, kc := range []struct {
				name string
				key  Key
			}{
				{"KeyFile", KeyFile(path)},
				{"KeyPEM", KeyPEM(readOrNil(path))},
			} {
				name, key := kc.name, kc.key
				if name == "KeyPEM" && tc.file == "missing.pem" {
					continue
				}
				_, err := New("w1", key, fixed(nil))
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("New(%s(%s)) = %v, want success", name, tc.file, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("New(%s(%s)) = %v, want error containing %q", name, tc.file, err, tc.wantErr)
				case err != nil:
					if !strings.HasPrefix(err.Error(), "chatwidget: ") {
						t.Errorf("error %q lacks the chatwidget: prefix", err)
					}
					assertNoKeyMaterial(t, err.Error(), readOrNil(path))
				}
			}
		})
	}
}

func readOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func TestPublicKeyPEM(t *testing.T) {
	m := newTest(t, fixed(nil), nil)
	want, err := os.ReadFile("testdata/public.pem") // written by openssl rsa -pubout
	if err != nil {
		t.Fatal(err)
	}
	if got := m.PublicKeyPEM(); string(got) != string(want) {
		t.Errorf("PublicKeyPEM() = %q, want what openssl wrote: %q", got, want)
	}
}

func TestKeyRSA(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New("w1", KeyRSA(k), fixed(nil)); err != nil {
		t.Fatalf("New(KeyRSA(2048-bit key)) = %v", err)
	}
	if _, err := New("w1", KeyRSA(nil), fixed(nil)); err == nil || !strings.Contains(err.Error(), "nil key") {
		t.Fatalf("New(KeyRSA(nil)) = %v, want a nil key error", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New("w1", KeyRSA(small), fixed(nil))
	if err == nil || !strings.Contains(err.Error(), "openssl genrsa -out private.pem 2048") {
		t.Fatalf("New(KeyRSA(1024-bit key)) = %v, want an error that says how to make a 2048-bit key", err)
	}
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(small.D.Bytes())[:16]) {
		t.Fatalf("error %q holds the private exponent", err)
	}
}
