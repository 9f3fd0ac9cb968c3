package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget"
	"github.com/golang-jwt/jwt/v5"
)

// TestCommand runs the demo as the README's Quick start does, with no
// flags and no environment: it listens on 127.0.0.1, says where, and
// prints the public key of a throwaway key, which verifies the token of a
// visitor who logs in.
func TestCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The default address, 127.0.0.1:8080, may be taken: the listen
	// address alone is given.
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATWIDGET_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	// What the demo prints before it serves. Should it print less, the
	// guard ends the wait for the rest.
	guard := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "(a throwaway key") {
			break
		}
	}
	guard.Stop()
	go io.Copy(io.Discard, stdout) // whatever else it prints
	out := strings.Join(lines, "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "chatwidget demo: http://127.0.0.1:") || !strings.HasSuffix(lines[0], "/ (widget demo-widget)") {
		t.Fatalf("demo printed %q, want its origin on 127.0.0.1 and the widget first", out)
	}
	if !strings.HasPrefix(lines[len(lines)-1], "(a throwaway key") {
		t.Fatalf("demo printed %q, want it to say that its key is a throwaway one", out)
	}
	origin := strings.TrimSuffix(strings.Fields(lines[0])[2], "/")
	begin := strings.Index(out, "-----BEGIN PUBLIC KEY-----")
	end := strings.Index(out, "-----END PUBLIC KEY-----")
	if begin < 0 || end < begin {
		t.Fatalf("demo printed %q, want a public key", out)
	}
	pub, err := chatwidget.ParsePublicKeyPEM([]byte(out[begin:]))
	if err != nil {
		t.Fatalf("printed public key: %v", err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.PostForm(origin+"/login", url.Values{"user": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = c.Get(origin + "/chatwidget/token")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(got.Token, claims, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"RS256"})); err != nil {
		t.Fatalf("Alice's token does not verify with the printed public key: %v", err)
	}
	if claims["name"] != "Alice Example" {
		t.Errorf("claims = %v, want Alice's", claims)
	}
}
