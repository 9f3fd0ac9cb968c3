package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
)

// get sends a GET for path with headers (name, value pairs) through the
// server's client and returns the response with its body read; errBody is
// the error that ended the body, if any.
func (s *site) get(ctx context.Context, path string, headers ...string) (resp *http.Response, body []byte, errBody error, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err = s.srv.Client().Do(req)
	if err != nil {
		return nil, nil, nil, err
	}
	defer resp.Body.Close()
	body, errBody = io.ReadAll(resp.Body)
	return resp, body, errBody, nil
}

// dial opens a raw connection to the server whose deadline is ctx's.
func (s *site) dial(ctx context.Context) (net.Conn, error) {
	return s.dialWith(ctx, &net.Dialer{})
}

// dialWith opens a raw connection with d whose deadline is ctx's.
func (s *site) dialWith(ctx context.Context, d *net.Dialer) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", s.srv.Listener.Addr().String())
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// sendGet writes a GET request for path with headers to conn and returns
// it, for http.ReadResponse.
func (s *site) sendGet(ctx context.Context, conn net.Conn, path string, headers ...string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, req.Write(conn)
}

// wait waits for p's request to end on the server.
func wait(ctx context.Context, p *probe, what string) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: the handler has not returned: %w", what, context.Cause(ctx))
	}
}

// smallReads caps each Read of r at n bytes.
type smallReads struct {
	r io.Reader
	n int
}

func (s smallReads) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), s.n)])
}

// widgets counts the widgets in a page: the start tags that carry the
// marker attribute data-chatwidget, as x/net/html's tokenizer reads them.
func widgets(page []byte) int {
	z := html.NewTokenizer(bytes.NewReader(page))
	n := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return n
		case html.StartTagToken, html.SelfClosingTagToken:
			_, more := z.TagName()
			for more {
				var k []byte
				k, _, more = z.TagAttr()
				if string(k) == "data-chatwidget" {
					n++
				}
			}
		}
	}
}

// tokenPattern finds the token in the default customer-data code.
var tokenPattern = regexp.MustCompile(`done\("([A-Za-z0-9_.-]*)"\)`)

// checkWidget checks that body is page with one widget inserted right
// before its last </body>, and returns the claims of the token that widget
// carries (nil: the anonymous widget).
func (s *site) checkWidget(body, page []byte) (jwt.MapClaims, error) {
	if n := widgets(body); n != 1 {
		return nil, fmt.Errorf("page has %d widgets, want 1", n)
	}
	at := bytes.LastIndex(page, []byte("</body>"))
	i := bytes.Index(body, s.embed)
	j := i + len(body) - len(page)
	switch {
	case i < 0:
		return nil, fmt.Errorf("page has no embed code %q", s.embed)
	case i != at || j < i || !bytes.Equal(body[:i], page[:i]) || !bytes.Equal(body[j:], page[i:]):
		return nil, fmt.Errorf("widget at %d of a %d-byte page, want the page untouched and the widget before </body> at %d", i, len(body), at)
	}
	snippet := body[i:j]
	m := tokenPattern.FindSubmatch(snippet)
	switch {
	case m == nil && bytes.Contains(snippet, []byte(anonMarker)):
		return nil, nil
	case m == nil:
		return nil, fmt.Errorf("widget %q has neither a token nor the anonymous code", snippet)
	case bytes.Contains(snippet, []byte(anonMarker)):
		return nil, fmt.Errorf("widget %q has both a token and the anonymous code", snippet)
	}
	return verify(string(m[1]))
}

// verify checks a token with golang-jwt against the test key's public half.
func verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return &testKey().PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, fmt.Errorf("token does not verify: %w", err)
	}
	return claims, nil
}

// checkUser checks that claims are the user's, with custom fields or without.
func checkUser(claims jwt.MapClaims, withFields bool) error {
	if claims == nil {
		return errors.New("widget is anonymous, want the user's")
	}
	if claims["name"] != user.Name || claims["email"] != user.Email || claims["sub"] != user.Subject || claims["isLoggedIn"] != true {
		return fmt.Errorf("claims %v, want the user %+v", claims, user)
	}
	var extra []string
	for k := range claims {
		switch k {
		case "name", "email", "sub", "isLoggedIn", "iat", "exp":
		case "Plan":
			if !withFields {
				extra = append(extra, k)
			}
		default:
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("claims have %d unexpected keys (%.80s), want none", len(extra), strings.Join(extra, ", "))
	}
	if withFields && claims["Plan"] != "pro" {
		return fmt.Errorf("claims %v, want Plan pro", claims)
	}
	return nil
}

// checkPage requests the normal page as the user and checks that it comes
// whole, with exactly one widget carrying the user's token.
func (s *site) checkPage(ctx context.Context) error {
	resp, body, errBody, err := s.get(ctx, "/page", hdrResolver, "user")
	if err != nil {
		return fmt.Errorf("normal page: %w", err)
	}
	if resp.StatusCode != http.StatusOK || errBody != nil {
		return fmt.Errorf("normal page: %s, body error %v; want 200 OK and a whole body", resp.Status, errBody)
	}
	claims, err := s.checkWidget(body, []byte(pageHTML))
	if err != nil {
		return fmt.Errorf("normal page: %w", err)
	}
	if err := checkUser(claims, true); err != nil {
		return fmt.Errorf("normal page: %w", err)
	}
	return nil
}

// readRaw reads all of a raw connection until the server closes it.
func readRaw(c net.Conn) ([]byte, error) {
	return io.ReadAll(bufio.NewReader(c))
}
