// Package cluster tests the chatwidget middleware where sites run it: the
// demo site (examples/demo) as several processes that share their sessions
// in a real redis-server (package examples/redisstore) and one key set
// across a key rotation, behind a real nginx that balances them round-robin,
// caches and compresses. Every component is started on loopback by the tests
// themselves (package cluster/clustertest); the demo runs as
// cluster/clusterdemo, its command with the accounts of the soak test.
//
// The tests:
//
//   - TestSessionsAcrossInstances: log in through one instance, be known on
//     the other; log out through the other, be anonymous on both.
//   - TestRotationAcrossInstances: the README's four rotation steps, each
//     instance restarted with the new flags in turn; every token of either
//     instance verifies with either instance's JWKS at every step, old
//     tokens until their exp.
//   - TestNginxCache and TestNginxGzip: a page that carries a token is
//     never served from nginx's cache, even when its handler says
//     Cache-Control: public, max-age=600; anonymous public pages are, and
//     never carry a token; gzip leaves one snippet per page.
//   - TestSoak: visitors with cookie jars of their own, logging in and out
//     as distinct users through nginx, every page's token decoded and
//     checked to be the visitor's own. A short run by default;
//     CHATWIDGET_SOAK=1 (scripts/soak) runs 100 visitors, 50 users and
//     20,000 requests, and prints the figures.
//
// They need Debian's redis-server and nginx; without them they skip, loudly,
// unless CI is set, when they fail.
package cluster
