// Command chatwidget makes and checks the keys and tokens of the chatwidget
// middleware from the command line: for a site that is not written in Go,
// for a shell script, or to see what the vendor will receive.
//
// Install it with
//
//	go install github.com/chatwidget/chatwidget/cmd/chatwidget@latest
//
// Usage:
//
//	chatwidget keygen [-bits 2048] [-dir .] [-force]
//	chatwidget sign -key private.pem [-ttl 10m] [-widget ID] [claims.json | -]
//	chatwidget verify -pub public.pem [-leeway 30s] [token | -]
//	chatwidget snippet -widget ID -key private.pem [-embed file] [-customer-data file] [claims.json | -]
//	chatwidget mobile-url -widget ID -key private.pem -template URL [claims.json | -]
//	chatwidget jwks [-alg RS256|PS256|ES256]... [-kid ID]... public.pem...
//	chatwidget check URL [-cookie name=value]... [-pub public.pem | -jwks URL] [-leftalone URL]... [-timeout 30s]
//
// A claims file is a JSON object: "name" (required), "email" and "sub" are
// strings; every other key is a custom field shown to the agent, with a
// string, number or bool value.
//
//	{"name": "Ada Lovelace", "email": "ada@example.com", "sub": "42", "Plan": "pro"}
//
// Check fetches a live page as a browser's navigation does, with the
// visitor's cookies, and prints one line per check, "ok", "warn" or "FAIL"
// with what to do: the widget found once, in <body>, where a browser runs it
// (the page parsed as browsers parse it, with scripting on and off); the
// customer-data token's signature (by -pub, or by the key of the -jwks set
// with its kid), claims and expiry; Cache-Control private and Vary: Cookie on
// a page with a token; the CSP nonce of the widget's scripts; and that each
// -leftalone URL, fetched as the page would fetch it, carries no widget.
// Flags may come before or after the URL.
//
// Run "chatwidget <command> -h" for the flags of a command.
//
// Exit status: 0 on success; 1 on a failure (a bad key, a bad token, an
// unreadable file, a check that failed); 2 on a usage error (an unknown
// command or flag, a wrong number of arguments) and when check cannot fetch
// the page. Errors and warnings go to standard error; results, and only
// results, to standard output.
package main
