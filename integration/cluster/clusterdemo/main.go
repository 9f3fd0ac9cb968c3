// Clusterdemo is the demo site as the cluster tests run it: the demo's own
// command ([site.Run], the same flags), plus the load-test accounts that
// TestSoak logs in as, which the demo has no flag for: with -soak-users N,
// POST /login also accepts soak-0 … soak-(N-1), each "Soak User I" with the
// email soak-I@example.test and the user ID u-soak-I.
//
//	clusterdemo [-soak-users N] [-- demo flags]
//
// Package clustertest builds and starts it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/chatwidget/chatwidget/examples/demo/site"
)

// main runs the demo with the load-test accounts and exits non-zero when it
// cannot start.
func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "clusterdemo:", err)
		os.Exit(1)
	}
}

// run parses -soak-users from args and runs the demo with the arguments
// after it.
func run(args []string) error {
	fs := flag.NewFlagSet("clusterdemo", flag.ContinueOnError)
	n := fs.Int("soak-users", 0, "let POST /login log in as soak-0 … soak-(`N`-1) too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 {
		return fmt.Errorf("-soak-users %d is negative; give 0 for none", *n)
	}
	return site.Run(fs.Args(), os.Getenv, os.Stdout, os.Stderr, soakAccounts(*n)...)
}

// soakAccounts returns the load-test accounts soak-0 … soak-(n-1).
func soakAccounts(n int) []site.User {
	users := make([]site.User, n)
	for i := range users {
		login := "soak-" + strconv.Itoa(i)
		users[i] = site.User{Login: login, Name: "Soak User " + strconv.Itoa(i), Email: login + "@example.test", ID: "u-" + login}
	}
	return users
}
