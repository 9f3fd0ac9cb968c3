package chatwidget

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Refresh configures the script that keeps the token of an open tab fresh;
// see [WithRefresh].
type Refresh struct {
	// Endpoint is the same-origin path where [Middleware.TokenHandler] is
	// mounted, e.g. "/chatwidget/token". The script resolves it against the
	// page's origin (location.origin), never against the document's base
	// URL, which a <base href> in the page could point elsewhere. Default:
	// the token endpoint the middleware answers itself (see
	// [WithEndpoints]); required when those are off.
	Endpoint string
	// Update names the vendor's JavaScript function that takes a fresh
	// token, as a dotted path from window, e.g. "ChatWidget.setToken".
	// Required.
	Update string
	// Logout names the vendor's function to call when the endpoint says
	// that nobody is logged in any more, e.g. "ChatWidget.logout".
	// Optional.
	Logout string
	// ExpiredHook is the name of a global function the script defines, for
	// a widget that reports an expired token to call: it fetches a fresh
	// token at once. Optional, e.g. "chatWidgetTokenExpired".
	ExpiredHook string
	// Before is how long before the token's exp the script fetches the next
	// one; it must be under half the TTL, since a token is renewed only once
	// half its TTL has passed (see [WithTokenCacheBytes]). Default: a tenth
	// of the TTL, at least 5 seconds, at most a quarter of the TTL.
	Before time.Duration
}

// WithRefresh adds, after the customer-data code of logged-in visitors, a
// small script that fetches a fresh token from r.Endpoint shortly before the
// current one expires, hands it to r.Update, and does so again for the next
// one, per tab, as long as the tab is open. When the endpoint answers that
// nobody is logged in (the visitor logged out, here or in another tab), the
// script calls r.Logout and stops: the token left in the page expires at its
// exp, at most one TTL later.
//
// This makes short TTLs (minutes) practical: a leaked page or token is
// worth little, and a logout takes effect within one TTL everywhere, at the
// cost of one small request per tab per TTL.
//
// Until the vendor's script defines r.Update, or whenever anything but a
// function stands at the end of its path (page markup can put an element or
// a cross-origin frame there, whose properties throw when read), after a
// failed fetch and after an answer with no token or no numeric expiresAt,
// the script backs off, from 1 second to 5 minutes, and tries again; it
// never gives up on an error.
//
// A page whose Content-Security-Policy would block the script's fetch (its
// connect-src, else default-src, does not allow the page's own origin, as
// default-src 'none' alone does not) gets the widget without the script,
// and a warning: add connect-src 'self'. Default: no refresh script.
func WithRefresh(r Refresh) Option {
	return func(c *config) { c.refresh = &r }
}

// endpointPath matches a path with no backslash, control or space
// character, which URL parsers could read as another host.
var endpointPath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$`)

// jsPath matches a dotted path of JavaScript identifiers.
var jsPath = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

// refreshScript is the refresh script. CONFIG is replaced by JSON at
// construction; JWT_EXP by the token's exp and JWT_NOW by the server's clock
// at request time, so that the script times itself by the server's clock
// whatever the browser's says.
//
// It fetches new URL(endpoint, location.origin), never the bare path: a
// relative URL resolves against the document's base URL, which a <base
// href> in the page's markup can point at another host, whose answer the
// script would hand to the vendor. It calls the vendor's functions as
// methods of their objects, and treats anything but a function at the end
// of the path as not there yet, the walk included: until the vendor defines
// its object, page markup can make the path name something else (a
// cross-origin frame called ChatWidget, whose properties throw a
// SecurityError when read). Whatever goes wrong (a failed or non-2xx fetch,
// an answer that is not JSON or has no token or no numeric expiresAt, a
// vendor's function missing or throwing, an exception of its own) backs
// off, from 1 s to 5 minutes, and tries again; only an answer
// {"loggedIn":false} stops it, after calling Logout. It moves on to a new
// token only once the vendor took it; asked by the widget (ExpiredHook),
// it hands over the newest token even if it is the one it has.
const refreshScript = `<script>(function(){var c=CONFIG,skew=JWT_NOW*1000-Date.now(),exp=JWT_EXP*1000,timer=0,busy=false,fail=0;` +
	`function now(){return Date.now()+skew}` +
	`function call(p,a){if(!p)return false;try{var t=null,o=window,s=p.split(".");for(var i=0;i<s.length;i++){if(o==null)return false;t=o;o=o[s[i]]}` +
	`if(typeof o!=="function")return false;o.call(t,a);return true}catch(e){return false}}` +
	`function later(ms){clearTimeout(timer);timer=setTimeout(function(){next(false)},ms)}` +
	`function arm(){fail=0;later(Math.max(0,exp-c.before-now()))}` +
	`function retry(){fail=Math.min(fail?fail*2:1000,300000);later(Math.max(fail,Math.min(30000,(exp-now())/2)))}` +
	`function take(j,force){if(j&&j.loggedIn===false){clearTimeout(timer);call(c.logout);return}` +
	`var e=j&&typeof j.expiresAt==="number"&&isFinite(j.expiresAt)?j.expiresAt*1000:0;` +
	`if(!e||typeof j.token!=="string"||!j.token||(e<=exp&&!force)||!call(c.update,j.token)){retry();return}` +
	`exp=Math.max(exp,e);arm()}` +
	`function next(force){if(busy)return;busy=true;try{fetch(new URL(c.endpoint,location.origin).href,{credentials:"same-origin",cache:"no-store",headers:{Accept:"application/json"}})` +
	`.then(function(r){if(!r.ok)throw new Error("HTTP "+r.status);return r.json()})` +
	`.then(function(j){busy=false;take(j,force)}).then(null,function(){busy=false;retry()})}catch(e){busy=false;retry()}}` +
	`try{if(c.expired)window[c.expired]=function(){next(true)}}catch(e){}arm()})();</script>`

// checkRefresh reports every problem with r for a TTL and the endpoints
// prefix (see [WithEndpoints]).
func checkRefresh(r *Refresh, ttl time.Duration, endpoints string) error {
	if r == nil {
		return nil
	}
	var errs []error
	if r.Endpoint == "" && endpoints == "" {
		errs = append(errs, errors.New("chatwidget: refresh endpoint is empty and WithEndpoints(\"\") turned the middleware's own token endpoint off; set Endpoint to the path where TokenHandler is mounted"))
	} else if r.Endpoint != "" && (!strings.HasPrefix(r.Endpoint, "/") || strings.HasPrefix(r.Endpoint, "//") || !endpointPath.MatchString(r.Endpoint)) {
		errs = append(errs, fmt.Errorf("chatwidget: refresh endpoint %q must be a path on this site, like /chatwidget/token, where TokenHandler is mounted", truncate(r.Endpoint, 40)))
	}
	if !jsPath.MatchString(r.Update) {
		errs = append(errs, fmt.Errorf("chatwidget: refresh Update %q must name the vendor's JavaScript function that takes a token, like ChatWidget.setToken", truncate(r.Update, 40)))
	}
	if r.Logout != "" && !jsPath.MatchString(r.Logout) {
		errs = append(errs, fmt.Errorf("chatwidget: refresh Logout %q must name a JavaScript function, like ChatWidget.logout", truncate(r.Logout, 40)))
	}
	if r.ExpiredHook != "" && (!jsPath.MatchString(r.ExpiredHook) || strings.Contains(r.ExpiredHook, ".")) {
		errs = append(errs, fmt.Errorf("chatwidget: refresh ExpiredHook %q must be a plain JavaScript name, like chatWidgetTokenExpired", truncate(r.ExpiredHook, 40)))
	}
	if before := r.before(ttl); before <= 0 || before >= ttl/2 {
		errs = append(errs, fmt.Errorf("chatwidget: refresh Before %v must be positive and under half the TTL %v, when a fresh token can be had", r.Before, ttl))
	}
	return errors.Join(errs...)
}

// before is how long before a token's exp the refresh script fetches the
// next one, for a TTL: Before, or a tenth of the TTL (5s to a quarter).
func (r *Refresh) before(ttl time.Duration) time.Duration {
	if r.Before != 0 {
		return r.Before
	}
	return min(max(ttl/10, 5*time.Second), ttl/4)
}

// endpoint returns the path the script fetches, for the endpoints prefix:
// Endpoint, or the middleware's own token endpoint.
func (r *Refresh) endpoint(endpoints string) string {
	if r.Endpoint != "" {
		return r.Endpoint
	}
	return endpoints + tokenEndpoint
}

// refreshURL returns the URL of endpoint, a path that checkRefresh checked,
// as the script's new URL(endpoint, location.origin) reads it, less the
// origin; for the page's CSP (see responseWriter.fetchBlocked).
func refreshURL(endpoint string) *url.URL {
	if u, err := url.Parse(endpoint); err == nil {
		return u
	}
	return &url.URL{Path: endpoint} // an invalid %-escape, which browsers keep as it is
}

// compileRefresh compiles r's script for a TTL and the endpoints prefix;
// [config.validate] checked r.
func compileRefresh(r *Refresh, ttl time.Duration, endpoints string) (snippetTemplate, error) {
	if r == nil {
		return nil, nil
	}
	cfg, err := json.Marshal(map[string]any{ // escapes <, > and & for a script element
		"endpoint": r.endpoint(endpoints), "update": r.Update, "logout": r.Logout,
		"expired": r.ExpiredHook, "before": r.before(ttl).Milliseconds(),
	})
	if err != nil {
		return nil, err
	}
	// The placeholders are filled at request time: hide any in the config.
	safe := strings.ReplaceAll(string(cfg), "JWT_", `JWT\u005f`)
	return compileTemplate("refresh", strings.Replace(refreshScript, "CONFIG", safe, 1), "", false)
}
