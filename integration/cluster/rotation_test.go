package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatwidget/chatwidget/integration/cluster/clustertest"
)

// A rotationStep is the flags of one step of the README's key rotation
// ("Rotating keys across several instances"): the key that signs and the
// public keys published beside it.
type rotationStep struct {
	name    string
	key     string   // under testdata
	publish []string // under testdata
}

// rotationSteps are the README's steps, from before the rotation (0) to
// after it (3, once one TTL has passed since step 2).
var rotationSteps = []rotationStep{
	{"0: the old key signs", "old.pem", nil},
	{"1: the old key signs, the new one is published", "old.pem", []string{"new.pub.pem"}},
	{"2: the new key signs, the old one is published", "new.pem", []string{"old.pub.pem"}},
	{"3: the old key is dropped", "new.pem", nil},
}

// An issued token is a token taken from a page, and the key that signed it.
type issued struct {
	token, key, from string
}

// TestRotationAcrossInstances runs two instances through the README's key
// rotation, restarting one at a time with the next step's flags, as a
// rolling deploy does: at every moment, each token either instance has
// issued so far verifies with either instance's JWKS, until its exp and
// not after, until the old key is dropped; then only the new key's tokens
// verify. The visitor stays logged in throughout: the sessions are in
// Redis.
func TestRotationAcrossInstances(t *testing.T) {
	r := clustertest.StartRedis(t)
	demos := make([]*clustertest.Demo, 2)
	steps := make([]int, len(demos)) // each instance's step
	start := func(i, step int) {
		c := demoConfig(t, r.URL)
		c.KeyFile = testdata(t, rotationSteps[step].key)
		for _, p := range rotationSteps[step].publish {
			c.Publish = append(c.Publish, testdata(t, p))
		}
		if demos[i] != nil {
			checkQuiet(t, demos[i])
			demos[i].Stop(t)
		}
		demos[i], steps[i] = clustertest.StartDemo(t, c), step
	}
	for i := range demos {
		start(i, 0)
	}
	t.Cleanup(func() { checkQuiet(t, demos...) })
	v := newVisitor(nil)
	v.login(t, demos[0].URL, "alice")
	var tokens []issued
	for step := range rotationSteps {
		for i := range demos {
			if step > 0 {
				start(i, step)
			}
			state := fmt.Sprintf("instances at steps %v", steps)
			tokens = append(tokens, collectTokens(t, v, demos, steps, state)...)
			checkRotation(t, demos, steps, tokens, state)
			if step == 0 {
				break // both are at step 0 already
			}
		}
	}
}

// collectTokens returns the token of Alice's page from each instance,
// checked with the instance's own JWKS.
func collectTokens(t *testing.T, v *visitor, demos []*clustertest.Demo, steps []int, state string) []issued {
	t.Helper()
	alice := userIdentity("alice")
	var out []issued
	for i, d := range demos {
		_, body := v.get(t, d.URL+"/")
		tok, err := checkPage(body, &alice, fetchJWKS(t, d.URL), time.Now())
		if err != nil {
			t.Fatalf("%s: Alice's page from instance %d: %v", state, i, err)
		}
		out = append(out, issued{token: tok, key: rotationSteps[steps[i]].key, from: fmt.Sprintf("instance %d at step %d", i, steps[i])})
	}
	return out
}

// checkRotation checks every token against the JWKS of every instance:
// while no instance has dropped the old key, each verifies now and a second
// before its exp, and not a second after it; once an instance has, only
// tokens of the key it signs with verify with its JWKS.
func checkRotation(t *testing.T, demos []*clustertest.Demo, steps []int, tokens []issued, state string) {
	t.Helper()
	for i, d := range demos {
		ks := fetchJWKS(t, d.URL)
		dropped := rotationSteps[steps[i]].publish == nil && steps[i] == len(rotationSteps)-1
		for _, tok := range tokens {
			claims, err := ks.verify(tok.token, time.Now())
			want := !dropped || tok.key == rotationSteps[steps[i]].key
			if (err == nil) != want {
				t.Errorf("%s: token of %s with instance %d's JWKS: error %v, want verified %v", state, tok.from, i, err, want)
				continue
			}
			if !want {
				continue
			}
			exp, _ := claims.GetExpirationTime()
			if _, err := ks.verify(tok.token, exp.Add(-time.Second)); err != nil {
				t.Errorf("%s: token of %s a second before its exp: %v", state, tok.from, err)
			}
			if _, err := ks.verify(tok.token, exp.Add(time.Second)); err == nil {
				t.Errorf("%s: token of %s verifies a second after its exp", state, tok.from)
			}
		}
	}
}
