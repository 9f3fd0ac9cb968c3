package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatwidget/chatwidget"
)

// sessionVisitors returns a resolver for n distinct visitors: the request's
// cookie sid=I names visitor I (0 ≤ I < n); no cookie, or another value, is
// anonymous. Each visitor's token is about 1 KB, as the cache budget
// reckons a typical one.
func sessionVisitors(n int) chatwidget.Resolver {
	visitors := make([]*chatwidget.Visitor, n)
	for i := range visitors {
		id := fmt.Sprintf("u-%06d", i)
		visitors[i] = &chatwidget.Visitor{
			Name:    fmt.Sprintf("Visitor %06d", i),
			Email:   fmt.Sprintf("visitor.%06d@example.com", i),
			Subject: id,
			Fields: map[string]any{
				"User ID":    id,
				"Plan":       []string{"Free", "Pro", "Business"}[i%3],
				"Orders":     i % 97,
				"Verified":   i%2 == 0,
				"Address":    fmt.Sprintf("%d Long Street, Apartment %d, Springfield, 12345", i%900, i%77),
				"Telephone":  fmt.Sprintf("+1 555 %07d", i),
				"Company":    fmt.Sprintf("Company %d Trading Ltd.", i%1000),
				"Last order": fmt.Sprintf("2026-11-%02d #%09d", 1+i%28, i*7),
			},
		}
	}
	return chatwidget.ResolverFunc(func(r *http.Request) (*chatwidget.Visitor, error) {
		c, err := r.Cookie("sid")
		if err != nil {
			return nil, nil
		}
		i, err := strconv.Atoi(c.Value)
		if err != nil || i < 0 || i >= n {
			return nil, nil
		}
		return visitors[i], nil
	})
}

// warm loads the page at pageURL, a loopback URL, once for each of n
// visitors, eight requests at a time, so that the injected server has
// signed every visitor's token before the measured runs; it reports how
// long that took. Every response must be a 200.
func warm(pageURL string, n int, stdout io.Writer) error {
	u, err := url.Parse(pageURL)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("-warm %q: want http://127.0.0.1:PORT/", pageURL)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-warm %q: want a loopback IP address such as http://127.0.0.1:PORT/", pageURL)
	}
	if n == 0 {
		return fmt.Errorf("-warm needs -visitors")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fetch(client, pageURL, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "warmed %d visitors in %.1fs\n", n, time.Since(start).Seconds())
	return nil
}

// fetch loads the page as visitor i and drops the body.
func fetch(client *http.Client, pageURL string, i int) error {
	req, err := http.NewRequest(http.MethodGet, pageURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", "sid="+strconv.Itoa(i))
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("visitor %d: %s", i, res.Status)
	}
	return nil
}
