package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// bin is the command, built once by TestMain: the tests run it as a user does.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chatwidget-cmd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "chatwidget")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s .: %v\n%s", bin, err, out)
		return 1
	}
	return m.Run()
}

// result is what a run of the command left.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command in the test's working directory with stdin.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return cliIn(t, "", stdin, args...)
}

// cliIn runs the command in dir ("" for the test's own) with stdin.
func cliIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run chatwidget %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// check reports whether r has the exit code want and, when stderrHas is not
// empty, a stderr holding it.
func (r result) check(t *testing.T, args []string, want int, stderrHas string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("chatwidget %q: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.stdout, r.stderr)
	}
	if stderrHas != "" && !strings.Contains(r.stderr, stderrHas) {
		t.Fatalf("chatwidget %q: stderr = %q, want it to contain %q", args, r.stderr, stderrHas)
	}
	if want == exitOK && r.stdout == "" {
		t.Fatalf("chatwidget %q: exit 0 with no output", args)
	}
}

// Fixed test material.
var (
	testPriv   = abs("testdata/private.pem")
	testPub    = abs("testdata/public.pem")
	testClaims = abs("testdata/claims.json")
)

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// testKey is the key in testdata/private.pem.
func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(testPriv)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// writeTestPEM writes a PEM block of der to dir/name and returns its path.
func writeTestPEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePublic(t *testing.T, dir, name string, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writeTestPEM(t, dir, name, "PUBLIC KEY", der)
}

func writePrivate(t *testing.T, dir, name string, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writeTestPEM(t, dir, name, "PRIVATE KEY", der)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mint signs claims with golang-jwt, not with the code under test.
func mint(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validClaims are claims that verify passes, issued now.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"name": "Ada", "isLoggedIn": true, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
}

// with returns a copy of c with k set to v, or without k when v is nil.
func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for ck, cv := range c {
		out[ck] = cv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// parseRS256 checks tok with golang-jwt and the public key of testKey.
func parseRS256(t *testing.T, tok string, pub *rsa.PublicKey) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired()).
		ParseWithClaims(strings.TrimSpace(tok), claims, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		t.Fatalf("golang-jwt rejects %q: %v", tok, err)
	}
	return claims
}

// needOpenSSL returns the path of openssl, skipping the test without it
// unless CI is set.
func needOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is needed in CI: %v", err)
		}
		t.Skipf("openssl is not installed (%v); skipping the check against it", err)
	}
	return p
}

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(needOpenSSL(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	type usageCase struct {
		name      string
		args      []string
		code      int
		stdoutHas string
		stderrHas string
	}
	tests := []usageCase{
		{"no command", nil, exitUsage, "", "usage: chatwidget <command>"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"-h", []string{"-h"}, exitOK, "mobile-url", ""},
		{"help", []string{"help"}, exitOK, "usage: chatwidget <command>", ""},
		{"help sign", []string{"help", "sign"}, exitOK, "usage: chatwidget sign -key private.pem", ""},
		{"help unknown", []string{"help", "frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"help two", []string{"help", "sign", "verify"}, exitUsage, "", "usage: chatwidget help [command]"},
	}
	for _, c := range commands() {
		tests = append(tests,
			usageCase{c.name + " -h", []string{c.name, "-h"}, exitOK, "usage: chatwidget " + c.name + " " + c.synopsis, ""},
			usageCase{c.name + " -help", []string{c.name, "-help"}, exitOK, "usage: chatwidget " + c.name + " " + c.synopsis, ""},
			usageCase{c.name + " -nope", []string{c.name, "-nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, "", tc.args...)
			if r.code != tc.code {
				t.Fatalf("chatwidget %q: exit %d, want %d; stderr: %s", tc.args, r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.stdoutHas) {
				t.Errorf("chatwidget %q: stdout = %q, want it to contain %q", tc.args, r.stdout, tc.stdoutHas)
			}
			if !strings.Contains(r.stderr, tc.stderrHas) {
				t.Errorf("chatwidget %q: stderr = %q, want it to contain %q", tc.args, r.stderr, tc.stderrHas)
			}
			if tc.code == exitOK && r.stderr != "" {
				t.Errorf("chatwidget %q: stderr = %q, want nothing", tc.args, r.stderr)
			}
			if tc.code != exitOK && r.stdout != "" {
				t.Errorf("chatwidget %q: stdout = %q, want nothing", tc.args, r.stdout)
			}
		})
	}
}

// TestRunInProcess calls run as main does.
func TestRunInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", "-h"}, strings.NewReader(""), &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "-leeway") {
		t.Errorf("run(verify -h) = %d, stdout %q, stderr %q; want 0 and the usage", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"sign", "-key", testPriv, testClaims}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("run(sign) = %d, stderr %q; want 0", code, stderr.String())
	}
	parseRS256(t, stdout.String(), &testKey(t).PublicKey)
}

func TestKeygen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"keygen"}
	r := cliIn(t, dir, "", args...)
	r.check(t, args, exitOK, "")
	priv, pub := filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")

	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{priv, 0o600},
		{pub, 0o644},
	} {
		path, mode := tc.path, tc.mode
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	k := readPrivateBlock(t, priv, "PRIVATE KEY")
	if bits := k.N.BitLen(); bits != 2048 {
		t.Errorf("key has %d bits, want 2048", bits)
	}
	pubBytes, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pubBytes), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("public.pem begins %q, want a PUBLIC KEY block", pubBytes[:min(len(pubBytes), 30)])
	}
	pk, err := chatwidget.ParsePublicKeyPEM(pubBytes)
	if err != nil || !k.PublicKey.Equal(pk) {
		t.Fatalf("public.pem holds %v (%v), not the public half of private.pem", pk, err)
	}
	kid, _ := chatwidget.Thumbprint(pk)
	for _, want := range []string{"private.pem", "public.pem", "kid:", kid} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("keygen stdout = %q, want it to contain %q", r.stdout, want)
		}
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		r := cliIn(t, dir, "", "keygen")
		r.check(t, []string{"keygen"}, exitFailure, "private.pem exists")
		if after := readPrivateBlock(t, priv, "PRIVATE KEY"); !after.Equal(k) {
			t.Error("keygen without -force changed private.pem")
		}
	})
	t.Run("refuses when only public.pem exists", func(t *testing.T) {
		d := t.TempDir()
		writeFile(t, d, "public.pem", "keep me")
		cliIn(t, d, "", "keygen").check(t, []string{"keygen"}, exitFailure, "public.pem exists")
		if _, err := os.Stat(filepath.Join(d, "private.pem")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused keygen left private.pem behind (%v)", err)
		}
	})
	t.Run("force", func(t *testing.T) {
		d := t.TempDir()
		writeFile(t, d, "private.pem", "old")
		if err := os.Chmod(filepath.Join(d, "private.pem"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"keygen", "-force", "-dir", d}
		cli(t, "", args...).check(t, args, exitOK, "")
		fi, err := os.Stat(filepath.Join(d, "private.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("overwritten private.pem has mode %v, want 0600", fi.Mode().Perm())
		}
		readPrivateBlock(t, filepath.Join(d, "private.pem"), "PRIVATE KEY")
	})
	t.Run("openssl accepts the files", func(t *testing.T) {
		out := openssl(t, dir, "rsa", "-in", "private.pem", "-check", "-noout")
		if !strings.Contains(out, "RSA key ok") {
			t.Errorf("openssl rsa -check: %s", out)
		}
		openssl(t, dir, "pkey", "-pubin", "-in", "public.pem", "-noout")
		// public.pem is byte for byte what openssl derives from private.pem.
		if got := openssl(t, dir, "rsa", "-in", "private.pem", "-pubout"); !strings.HasSuffix(got, string(pubBytes)) {
			t.Errorf("openssl rsa -pubout = %q, want public.pem %q", got, pubBytes)
		}
	})

	errTests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
	}{
		{"bits under 2048", []string{"keygen", "-bits", "1024", "-dir", t.TempDir()}, exitUsage, "-bits 1024 is out of range"},
		{"bits not a number", []string{"keygen", "-bits", "many", "-dir", t.TempDir()}, exitUsage, "invalid value"},
		{"argument", []string{"keygen", "extra"}, exitUsage, "too many arguments"},
		{"no such dir", []string{"keygen", "-dir", filepath.Join(t.TempDir(), "nope")}, exitFailure, "no such file or directory"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			cli(t, "", tc.args...).check(t, tc.args, tc.code, tc.stderrHas)
		})
	}
}

// readPrivateBlock reads an RSA private key from path, checking its PEM type.
func readPrivateBlock(t *testing.T, path, typ string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		t.Fatalf("%s: want a %q PEM block, got %q", path, typ, b[:min(len(b), 40)])
	}
	var k any
	if typ == "RSA PRIVATE KEY" {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%s holds a %T, want an RSA key", path, k)
	}
	return rk
}

func TestSign(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := &testKey(t).PublicKey
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallKey := writePrivate(t, dir, "small.pem", small)
	garbage := writeFile(t, dir, "garbage.pem", "not a key")
	const ada = `{"name":"Ada"}`

	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		stderrHas string
		want      map[string]any // claims of the token, on success
		ttl       int64          // exp - iat, on success
	}{
		{
			name: "claims file",
			args: []string{"sign", "-key", testPriv, testClaims},
			want: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "sub": "user-42",
				"User ID": 42.0, "Plan": "pro", "Verified": true, "isLoggedIn": true},
			ttl: 600,
		},
		{name: "stdin dash", args: []string{"sign", "-key", testPriv, "-"}, stdin: ada, want: map[string]any{"name": "Ada", "isLoggedIn": true}, ttl: 600},
		{name: "stdin", args: []string{"sign", "-key", testPriv}, stdin: ada, want: map[string]any{"name": "Ada"}, ttl: 600},
		{name: "ttl", args: []string{"sign", "-key", testPriv, "-ttl", "1s"}, stdin: ada, want: map[string]any{"name": "Ada"}, ttl: 1},
		{name: "widget", args: []string{"sign", "-key", testPriv, "-widget", "acme-1"}, stdin: ada, want: map[string]any{"name": "Ada"}, ttl: 600},
		{
			name: "numbers", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","n":-7,"f":1.5,"e":1e3}`,
			want: map[string]any{"n": -7.0, "f": 1.5, "e": 1000.0}, ttl: 600,
		},
		{
			name: "signer's claims ignored", args: []string{"sign", "-key", testPriv},
			stdin: `{"name":"Ada","iat":3,"exp":4,"isLoggedIn":false}`, stderrHas: `claim "iat" ignored`,
			want: map[string]any{"isLoggedIn": true}, ttl: 600,
		},
		{name: "no name", args: []string{"sign", "-key", testPriv}, stdin: `{"email":"a@example.com"}`, code: exitFailure, stderrHas: `claim "name" is required`},
		{name: "empty name", args: []string{"sign", "-key", testPriv}, stdin: `{"name":""}`, code: exitFailure, stderrHas: `claim "name" is required`},
		{name: "name not a string", args: []string{"sign", "-key", testPriv}, stdin: `{"name":7}`, code: exitFailure, stderrHas: `claim "name" must be a string, not a number`},
		{name: "email not a string", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","email":true}`, code: exitFailure, stderrHas: `claim "email" must be a string`},
		{name: "iss", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","iss":"me"}`, code: exitFailure, stderrHas: `claim "iss" is a registered JWT claim`},
		{name: "aud", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","aud":"you"}`, code: exitFailure, stderrHas: `claim "aud" is a registered JWT claim`},
		{name: "jti", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","jti":"1"}`, code: exitFailure, stderrHas: `claim "jti" is a registered JWT claim`},
		{name: "nbf", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","nbf":1}`, code: exitFailure, stderrHas: `claim "nbf" is a registered JWT claim`},
		{name: "object field", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","x":{}}`, code: exitFailure, stderrHas: `field "x": value must be a string, number or bool, not an object`},
		{name: "array field", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","x":[1]}`, code: exitFailure, stderrHas: `not an array`},
		{name: "null field", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","x":null}`, code: exitFailure, stderrHas: `not null`},
		{name: "huge integer", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","x":12345678901234567890}`, code: exitFailure, stderrHas: "does not fit in 64 bits"},
		{name: "empty field name", args: []string{"sign", "-key", testPriv}, stdin: `{"name":"Ada","":1}`, code: exitFailure, stderrHas: "empty name"},
		{name: "not JSON", args: []string{"sign", "-key", testPriv}, stdin: `name=Ada`, code: exitFailure, stderrHas: "stdin: claims must be a JSON object"},
		{name: "array", args: []string{"sign", "-key", testPriv}, stdin: `[{"name":"Ada"}]`, code: exitFailure, stderrHas: "claims must be a JSON object"},
		{name: "null", args: []string{"sign", "-key", testPriv}, stdin: `null`, code: exitFailure, stderrHas: "claims must be a JSON object, not null"},
		{name: "two objects", args: []string{"sign", "-key", testPriv}, stdin: ada + ada, code: exitFailure, stderrHas: "single JSON object"},
		{name: "no claims file", args: []string{"sign", "-key", testPriv, filepath.Join(dir, "nope.json")}, code: exitFailure, stderrHas: "nope.json: no such file"},
		{name: "no -key", args: []string{"sign"}, stdin: ada, code: exitUsage, stderrHas: "flag -key is required"},
		{name: "two arguments", args: []string{"sign", "-key", testPriv, testClaims, testClaims}, code: exitUsage, stderrHas: "too many arguments"},
		{name: "ttl zero", args: []string{"sign", "-key", testPriv, "-ttl", "0s"}, stdin: ada, code: exitUsage, stderrHas: "-ttl 0s is out of range"},
		{name: "ttl too long", args: []string{"sign", "-key", testPriv, "-ttl", "25h"}, stdin: ada, code: exitUsage, stderrHas: "out of range"},
		{name: "ttl not a duration", args: []string{"sign", "-key", testPriv, "-ttl", "soon"}, stdin: ada, code: exitUsage, stderrHas: "invalid value"},
		{name: "no key file", args: []string{"sign", "-key", filepath.Join(dir, "nope.pem")}, stdin: ada, code: exitFailure, stderrHas: "no such file"},
		{name: "public key", args: []string{"sign", "-key", testPub}, stdin: ada, code: exitFailure, stderrHas: "not a private key"},
		{name: "1024-bit key", args: []string{"sign", "-key", smallKey}, stdin: ada, code: exitFailure, stderrHas: "1024 bits"},
		{name: "garbage key", args: []string{"sign", "-key", garbage}, stdin: ada, code: exitFailure, stderrHas: "no PEM block"},
		{name: "bad widget ID", args: []string{"sign", "-key", testPriv, "-widget", "a b"}, stdin: ada, code: exitFailure, stderrHas: "widget ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tc.stdin, tc.args...)
			r.check(t, tc.args, tc.code, tc.stderrHas)
			if tc.code != exitOK {
				if r.stdout != "" {
					t.Errorf("chatwidget %q: stdout = %q on failure, want nothing", tc.args, r.stdout)
				}
				return
			}
			if strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("chatwidget %q: stdout = %q, want one line", tc.args, r.stdout)
			}
			claims := parseRS256(t, r.stdout, pub)
			for k, want := range tc.want {
				if got := claims[k]; got != want {
					t.Errorf("chatwidget %q: claim %q = %#v, want %#v", tc.args, k, got, want)
				}
			}
			iat, _ := claims["iat"].(float64)
			exp, _ := claims["exp"].(float64)
			if int64(exp-iat) != tc.ttl || time.Since(time.Unix(int64(iat), 0)) > time.Minute {
				t.Errorf("chatwidget %q: iat %v exp %v, want iat now and exp-iat = %d", tc.args, iat, exp, tc.ttl)
			}
			for _, k := range []string{"iss", "aud", "nbf", "jti"} {
				if _, ok := claims[k]; ok {
					t.Errorf("chatwidget %q: token has claim %q", tc.args, k)
				}
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	args := []string{"sign", "-key", testPriv, testClaims}
	s := cli(t, "", args...)
	s.check(t, args, exitOK, "")
	vargs := []string{"verify", "-pub", testPub}
	v := cli(t, s.stdout, vargs...)
	v.check(t, vargs, exitOK, "")
	var got map[string]any
	if err := json.Unmarshal([]byte(v.stdout), &got); err != nil {
		t.Fatalf("verify printed %q, not JSON: %v", v.stdout, err)
	}
	b, err := os.ReadFile(testClaims)
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	in["isLoggedIn"] = true
	for k, want := range in {
		if got[k] != want {
			t.Errorf("verify: claim %q = %#v, want %#v", k, got[k], want)
		}
	}
	for _, k := range []string{"iat", "exp"} {
		if _, ok := got[k].(float64); !ok {
			t.Errorf("verify: claim %q = %#v, want a number", k, got[k])
		}
	}
	if len(got) != len(in)+2 {
		t.Errorf("verify printed %d claims, want %d: %v", len(got), len(in)+2, got)
	}
}

func TestSignOpenSSLVerifies(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	args := []string{"sign", "-key", testPriv, testClaims}
	r := cli(t, "", args...)
	r.check(t, args, exitOK, "")
	opensslVerify(t, strings.TrimSpace(r.stdout), testPub)

	t.Run("tampered", func(t *testing.T) {
		tok := strings.TrimSpace(r.stdout)
		dot := strings.Index(tok, ".")
		tampered := tok[:dot] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"name":"Eve"}`)) + tok[strings.LastIndex(tok, "."):]
		dir := t.TempDir()
		in, sig := writeSigningInput(t, dir, tampered)
		cmd := exec.Command(needOpenSSL(t), "dgst", "-sha256", "-verify", testPub, "-signature", sig, in)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("openssl dgst -verify accepts a tampered token: %s", out)
		}
	})
}

// opensslVerify checks an RS256 token with `openssl dgst -sha256 -verify`.
func opensslVerify(t *testing.T, tok, pubPath string) {
	t.Helper()
	dir := t.TempDir()
	in, sig := writeSigningInput(t, dir, tok)
	out := openssl(t, dir, "dgst", "-sha256", "-verify", pubPath, "-signature", sig, in)
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("openssl dgst -verify: %s", out)
	}
}

// writeSigningInput writes the signing input of tok and its decoded
// signature to files in dir.
func writeSigningInput(t *testing.T, dir, tok string) (input, sig string) {
	t.Helper()
	i := strings.LastIndex(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatalf("signature of %q: %v", tok, err)
	}
	return writeFile(t, dir, "input", tok[:i]), writeFile(t, dir, "sig.bin", string(raw))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub := writePublic(t, dir, "ec.pem", &ec.PublicKey)
	pubBytes, err := os.ReadFile(testPub)
	if err != nil {
		t.Fatal(err)
	}

	sargs := []string{"sign", "-key", testPriv, "-ttl", "1s"}
	signed := cli(t, `{"name":"Ada"}`, sargs...)
	signed.check(t, sargs, exitOK, "")
	good := strings.TrimSpace(signed.stdout)
	parts := strings.Split(good, ".")
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"name":"Eve","isLoggedIn":true,"iat":1,"exp":9999999999}`)) + "." + parts[2]
	flip := "A"
	if parts[2][0] == 'A' {
		flip = "B"
	}
	tamperedSig := parts[0] + "." + parts[1] + "." + flip + parts[2][1:]

	now := time.Now()
	ok := validClaims()
	none := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ok)

	tests := []struct {
		name      string
		args      []string // after "verify"; the token is added when not empty
		token     string   // given as the argument
		stdin     string
		code      int
		stderrHas string
	}{
		{name: "sign -ttl 1s", args: []string{"-pub", testPub}, token: good},
		{name: "stdin", args: []string{"-pub", testPub}, stdin: good + "\n"},
		{name: "stdin dash", args: []string{"-pub", testPub, "-"}, stdin: good},
		{name: "PS256", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodPS256, key, ok)},
		{name: "ES256", args: []string{"-pub", ecPub}, token: mint(t, jwt.SigningMethodES256, ec, ok)},
		{name: "within leeway", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "exp", now.Add(-10*time.Second).Unix()))},
		{name: "expired", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(with(ok, "exp", now.Add(-time.Hour).Unix()), "iat", now.Add(-2*time.Hour).Unix())), code: exitFailure, stderrHas: "token is expired"},
		{name: "expired without leeway", args: []string{"-pub", testPub, "-leeway", "0s"}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "exp", now.Add(-10*time.Second).Unix())), code: exitFailure, stderrHas: "token is expired"},
		{name: "issued in the future", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "iat", now.Add(time.Hour).Unix())), code: exitFailure, stderrHas: "token used before issued"},
		{name: "tampered payload", args: []string{"-pub", testPub}, token: tamperedPayload, code: exitFailure, stderrHas: "signature is invalid"},
		{name: "tampered signature", args: []string{"-pub", testPub}, token: tamperedSig, code: exitFailure, stderrHas: "signature is invalid"},
		{name: "other key", args: []string{"-pub", testPub}, token: mintKid(t, other, ok), code: exitFailure, stderrHas: "was it signed by another key?"},
		{name: "no exp", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "exp", nil)), code: exitFailure, stderrHas: "exp claim is required"},
		{name: "no iat", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "iat", nil)), code: exitFailure, stderrHas: "missing required claim: iat"},
		{name: "no name", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "name", nil)), code: exitFailure, stderrHas: "missing claim name"},
		{name: "empty name", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "name", "")), code: exitFailure, stderrHas: `claim name is "", not a non-empty string`},
		{name: "name not a string", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "name", 7)), code: exitFailure, stderrHas: "claim name is 7"},
		{name: "not logged in", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "isLoggedIn", false)), code: exitFailure, stderrHas: "claim isLoggedIn is false, not true"},
		{name: "no isLoggedIn", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS256, key, with(ok, "isLoggedIn", nil)), code: exitFailure, stderrHas: "claim isLoggedIn is missing"},
		{name: "HS256 with the public key as secret", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodHS256, pubBytes, ok), code: exitFailure, stderrHas: "signing method HS256 is invalid"},
		{name: "alg none", args: []string{"-pub", testPub}, token: none, code: exitFailure, stderrHas: "signing method none is invalid"},
		{name: "RS384", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodRS384, key, ok), code: exitFailure, stderrHas: "signing method RS384 is invalid"},
		{name: "ES256 token, RSA key", args: []string{"-pub", testPub}, token: mint(t, jwt.SigningMethodES256, ec, ok), code: exitFailure, stderrHas: "token is signed with ES256, which the given 2048-bit RSA key cannot verify"},
		{name: "RS256 token, EC key", args: []string{"-pub", ecPub}, token: good, code: exitFailure, stderrHas: "cannot verify"},
		{name: "garbage", args: []string{"-pub", testPub}, token: "not.a.token", code: exitFailure, stderrHas: "token is malformed"},
		{name: "empty stdin", args: []string{"-pub", testPub}, code: exitFailure, stderrHas: "no token given"},
		{name: "private key as -pub", args: []string{"-pub", testPriv}, token: good, code: exitFailure, stderrHas: "a private key was given"},
		{name: "no pub file", args: []string{"-pub", filepath.Join(dir, "nope.pem")}, token: good, code: exitFailure, stderrHas: "no such file"},
		{name: "no -pub", token: good, code: exitUsage, stderrHas: "flag -pub is required"},
		{name: "negative leeway", args: []string{"-pub", testPub, "-leeway", "-1s"}, token: good, code: exitUsage, stderrHas: "-leeway -1s is negative"},
		{name: "two tokens", args: []string{"-pub", testPub, good}, token: good, code: exitUsage, stderrHas: "too many arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"verify"}, tc.args...)
			if tc.token != "" {
				args = append(args, tc.token)
			}
			r := cli(t, tc.stdin, args...)
			r.check(t, args, tc.code, tc.stderrHas)
			if tc.code != exitOK {
				if r.stdout != "" {
					t.Errorf("verify: stdout = %q on failure, want nothing", r.stdout)
				}
				return
			}
			var claims map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil || claims["name"] != "Ada" || claims["isLoggedIn"] != true {
				t.Errorf("verify printed %q (%v), want the claims as JSON", r.stdout, err)
			}
			if !strings.HasPrefix(r.stdout, "{\n  \"") {
				t.Errorf("verify printed %q, want indented JSON", r.stdout)
			}
		})
	}
}

// mintKid signs claims with k and the kid the middleware would give it.
func mintKid(t *testing.T, k *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	kid, err := chatwidget.Thumbprint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenSSLKeys checks that keys made by openssl, in the PKCS#8 form of
// OpenSSL 3 and the PKCS#1 form of OpenSSL 1.x, sign as they are.
func TestOpenSSLKeys(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	for _, tc := range []struct {
		name  string
		flags []string
		block string
	}{
		{"PKCS#8", nil, "-----BEGIN PRIVATE KEY-----"},
		{"PKCS#1", []string{"-traditional"}, "-----BEGIN RSA PRIVATE KEY-----"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			openssl(t, dir, append(append([]string{"genrsa"}, tc.flags...), "-out", "k.pem", "2048")...)
			b, err := os.ReadFile(filepath.Join(dir, "k.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), tc.block) {
				t.Fatalf("openssl genrsa %v wrote %q, want %s", tc.flags, b[:min(len(b), 40)], tc.block)
			}
			openssl(t, dir, "rsa", "-in", "k.pem", "-pubout", "-out", "pub.pem")
			key, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "pub.pem")

			args := []string{"sign", "-key", key, testClaims}
			s := cli(t, "", args...)
			s.check(t, args, exitOK, "")
			opensslVerify(t, strings.TrimSpace(s.stdout), pub)
			vargs := []string{"verify", "-pub", pub, strings.TrimSpace(s.stdout)}
			cli(t, "", vargs...).check(t, vargs, exitOK, "")
		})
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub := writePublic(t, dir, "ec.pem", &ec.PublicKey)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Pub := writePublic(t, dir, "p384.pem", &p384.PublicKey)

	args := []string{"jwks", ecPub, testPub, testPub}
	r := cli(t, "", args...)
	r.check(t, args, exitOK, "listed once")
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &set); err != nil {
		t.Fatalf("jwks printed %q: %v", r.stdout, err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("jwks printed %d keys, want 2: %s", len(set.Keys), r.stdout)
	}
	ecKid, _ := chatwidget.Thumbprint(&ec.PublicKey)
	if k := set.Keys[0]; k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != ecKid || k["x"] == "" || k["y"] == "" {
		t.Errorf("jwks EC key = %v", k)
	}
	if k := set.Keys[1]; k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["e"] != "AQAB" || k["n"] == "" {
		t.Errorf("jwks RSA key = %v", k)
	}

	t.Run("verifies sign's token by kid", func(t *testing.T) {
		sargs := []string{"sign", "-key", testPriv, testClaims}
		s := cli(t, "", sargs...)
		s.check(t, sargs, exitOK, "")
		_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"})).Parse(strings.TrimSpace(s.stdout), func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			for _, k := range set.Keys {
				if k["kid"] == kid {
					return rsaFromJWK(t, k), nil
				}
			}
			return nil, fmt.Errorf("no key with kid %q in the JWKS", kid)
		})
		if err != nil {
			t.Errorf("the token of sign does not verify with the JWKS: %v", err)
		}
	})

	tests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
	}{
		{"no file", []string{"jwks"}, exitUsage, "missing argument"},
		{"missing file", []string{"jwks", filepath.Join(dir, "nope.pem")}, exitFailure, "no such file"},
		{"private key", []string{"jwks", testPriv}, exitFailure, "a private key was given"},
		{"P-384", []string{"jwks", p384Pub}, exitFailure, "has no JWK here"},
		{"not PEM", []string{"jwks", testClaims}, exitFailure, "no PEM block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli(t, "", tc.args...).check(t, tc.args, tc.code, tc.stderrHas)
		})
	}
}

// rsaFromJWK builds an RSA public key from a JWK's n and e.
func rsaFromJWK(t *testing.T, k map[string]string) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil {
		t.Fatal(err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k["e"])
	if err != nil {
		t.Fatal(err)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

var customerDataToken = regexp.MustCompile(`done\("([A-Za-z0-9_.-]+)"\)`)

func TestSnippet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	embed := writeFile(t, dir, "embed.html", `<script src="https://vendor.example/WIDGET_ID/loader.js"></script>`)
	data := writeFile(t, dir, "data.html", `<script>Vendor.identify("WIDGET_ID", "JWT_TOKEN")</script>`)
	noScript := writeFile(t, dir, "noscript.html", `<p>hello</p>`)
	base := []string{"snippet", "-widget", "w1", "-key", testPriv}

	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		stderrHas string
		has       []string
		hasNot    []string
		token     *regexp.Regexp // finds the token to verify
	}{
		{
			name:   "anonymous",
			args:   base,
			has:    []string{"<script data-chatwidget", "/v1/w1.js"},
			hasNot: []string{"chatWidgetCustomerData"},
		},
		{
			name:  "visitor",
			args:  append(append([]string(nil), base...), testClaims),
			has:   []string{"<script data-chatwidget", "/v1/w1.js", "chatWidgetCustomerData"},
			token: customerDataToken,
		},
		{
			name:  "visitor on stdin",
			args:  append(append([]string(nil), base...), "-"),
			stdin: `{"name":"Ada"}`,
			has:   []string{"chatWidgetCustomerData"},
			token: customerDataToken,
		},
		{
			name:  "vendor templates",
			args:  append(append([]string(nil), base...), "-embed", embed, "-customer-data", data, testClaims),
			has:   []string{`<script data-chatwidget="" src="https://vendor.example/w1/loader.js"></script>`, `Vendor.identify("w1", "`},
			token: regexp.MustCompile(`identify\("w1", "([A-Za-z0-9_.-]+)"\)`),
		},
		{name: "embed without script", args: append(append([]string(nil), base...), "-embed", noScript), code: exitFailure, stderrHas: "no <script> element"},
		{name: "missing embed file", args: append(append([]string(nil), base...), "-embed", filepath.Join(dir, "nope.html")), code: exitFailure, stderrHas: "no such file"},
		{name: "bad claims", args: append(append([]string(nil), base...), "-"), stdin: `{"name":""}`, code: exitFailure, stderrHas: `claim "name" is required`},
		{name: "no -widget", args: []string{"snippet", "-key", testPriv}, code: exitUsage, stderrHas: "flag -widget is required"},
		{name: "no -key", args: []string{"snippet", "-widget", "w1"}, code: exitUsage, stderrHas: "flag -key is required"},
		{name: "two arguments", args: append(append([]string(nil), base...), testClaims, testClaims), code: exitUsage, stderrHas: "too many arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tc.stdin, tc.args...)
			r.check(t, tc.args, tc.code, tc.stderrHas)
			for _, s := range tc.has {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("chatwidget %q: stdout = %q, want it to contain %q", tc.args, r.stdout, s)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(r.stdout, s) {
					t.Errorf("chatwidget %q: stdout = %q, want no %q", tc.args, r.stdout, s)
				}
			}
			if tc.token == nil {
				return
			}
			m := tc.token.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("chatwidget %q: no token in %q", tc.args, r.stdout)
			}
			vargs := []string{"verify", "-pub", testPub, m[1]}
			cli(t, "", vargs...).check(t, vargs, exitOK, "")
		})
	}
}

func TestMobileURLCommand(t *testing.T) {
	t.Parallel()
	const tmpl = "https://chat.example.com/mobile/WIDGET_ID?jwt=JWT_TOKEN"
	args := []string{"mobile-url", "-widget", "w1", "-key", testPriv, "-template", tmpl, testClaims}
	r := cli(t, "", args...)
	r.check(t, args, exitOK, "")
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("mobile-url printed %q: %v", r.stdout, err)
	}
	if u.Host != "chat.example.com" || u.Path != "/mobile/w1" {
		t.Errorf("mobile-url printed %q, want https://chat.example.com/mobile/w1?jwt=…", r.stdout)
	}
	vargs := []string{"verify", "-pub", testPub, u.Query().Get("jwt")}
	cli(t, "", vargs...).check(t, vargs, exitOK, "")

	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		stderrHas string
	}{
		{"stdin", []string{"mobile-url", "-widget", "w1", "-key", testPriv, "-template", tmpl}, `{"name":"Ada"}`, exitOK, ""},
		{"no token placeholder", []string{"mobile-url", "-widget", "w1", "-key", testPriv, "-template", "https://chat.example.com/m/WIDGET_ID", testClaims}, "", exitUsage, "no JWT_TOKEN placeholder"},
		{"relative template", []string{"mobile-url", "-widget", "w1", "-key", testPriv, "-template", "/m?jwt=JWT_TOKEN", testClaims}, "", exitUsage, "not an absolute URL"},
		{"no -template", []string{"mobile-url", "-widget", "w1", "-key", testPriv, testClaims}, "", exitUsage, "flag -template is required"},
		{"no -widget", []string{"mobile-url", "-key", testPriv, "-template", tmpl, testClaims}, "", exitUsage, "flag -widget is required"},
		{"bad claims", []string{"mobile-url", "-widget", "w1", "-key", testPriv, "-template", tmpl}, `{}`, exitFailure, `claim "name" is required`},
		{"public key", []string{"mobile-url", "-widget", "w1", "-key", testPub, "-template", tmpl, testClaims}, "", exitFailure, "not a private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cli(t, tc.stdin, tc.args...).check(t, tc.args, tc.code, tc.stderrHas)
		})
	}
}
