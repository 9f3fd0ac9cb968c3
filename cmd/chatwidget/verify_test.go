package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opensslPS256 signs claims as a PS256 token with openssl and the key in
// keyPath, with the PSS salt length saltlen as openssl's rsa_pss_saltlen
// takes it ("32", "20", "0", "max", "digest", …).
func opensslPS256(t *testing.T, keyPath, saltlen string, claims map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"PS256","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := header + "." + base64.RawURLEncoding.EncodeToString(body)
	writeFile(t, dir, "input", input)
	openssl(t, dir, "dgst", "-sha256", "-sign", keyPath,
		"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:"+saltlen,
		"-out", "sig.bin", "input")
	sig, err := os.ReadFile(filepath.Join(dir, "sig.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// opensslVerifiesPSS reports whether openssl verifies the PS256 token tok
// with pubPath and the salt length rule saltlen ("-1": the hash length,
// "auto": any).
func opensslVerifiesPSS(t *testing.T, tok, pubPath, saltlen string) bool {
	t.Helper()
	dir := t.TempDir()
	in, sig := writeSigningInput(t, dir, tok)
	cmd := exec.Command(needOpenSSL(t), "dgst", "-sha256", "-verify", pubPath, "-signature", sig,
		"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:"+saltlen, in)
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), "Verified OK")
}

// TestVerifyPSSSalt checks that verify is as strict about the PSS salt of a
// PS256 token as openssl with rsa_pss_saltlen:-1 and RFC 7518: the salt
// must be as long as the hash, 32 bytes for SHA-256. Every token is a valid
// PSS signature (openssl verifies it with rsa_pss_saltlen:auto), so only the
// salt length decides.
func TestVerifyPSSSalt(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	claims := map[string]any{}
	for k, v := range validClaims() {
		claims[k] = v
	}
	tests := []struct {
		saltlen string
		ok      bool
	}{
		{"32", true},
		{"digest", true},
		{"20", false},
		{"0", false},
		{"max", false},
	}
	for _, tc := range tests {
		t.Run("saltlen "+tc.saltlen, func(t *testing.T) {
			t.Parallel()
			tok := opensslPS256(t, testPriv, tc.saltlen, claims)
			if !opensslVerifiesPSS(t, tok, testPub, "auto") {
				t.Fatalf("openssl does not verify its own PSS signature with salt %s", tc.saltlen)
			}
			if got := opensslVerifiesPSS(t, tok, testPub, "-1"); got != tc.ok {
				t.Fatalf("openssl rsa_pss_saltlen:-1 verifies salt %s: %v, want %v", tc.saltlen, got, tc.ok)
			}
			args := []string{"verify", "-pub", testPub, tok}
			r := cli(t, "", args...)
			if tc.ok {
				r.check(t, args, exitOK, "")
				return
			}
			r.check(t, args, exitFailure, "salt is not 32 bytes long")
			if r.stdout != "" {
				t.Errorf("verify: stdout = %q on failure, want nothing", r.stdout)
			}
		})
	}
}
