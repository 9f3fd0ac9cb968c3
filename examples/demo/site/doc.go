// Package site is the demo site that the demo command (examples/demo) serves:
// the pages, the logins of Alice and Bob, the session stores (a cookie, or
// Redis with -redis), the strict CSP, the pages the middleware leaves alone,
// the stand-in vendor, and [Run], the command itself. It is a package of its
// own so that the integration tests (integration/cluster) can run the same
// command with the accounts of a load test, through [Run]'s accounts, which
// the demo takes no flag for.
package site
