package clustertest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

// confTemplate is the nginx.conf of [StartNginx]: a round-robin load
// balancer with a shared cache and gzip, in the foreground, every path in
// Dir. No proxy_cache_valid: what may be cached, and for how long, is what
// the upstream's headers say (Cache-Control, Expires, Set-Cookie, Vary).
var confTemplate = template.Must(template.New("nginx.conf").Parse(`# written by clustertest.StartNginx
daemon off;
master_process on;
worker_processes 2;
{{if .Root}}user root;{{end}}
pid {{.Dir}}/nginx.pid;
error_log stderr notice;

events {
	worker_connections 1024;
}

http {
	default_type application/octet-stream;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;

	log_format cluster '$request_method $request_uri $status cache=$upstream_cache_status upstream=$upstream_addr';
	access_log {{.Dir}}/access.log cluster buffer=64k flush=1s;

	proxy_cache_path {{.Dir}}/cache levels=1:2 keys_zone=pages:10m max_size=256m inactive=10m use_temp_path=off;

	upstream demo {
{{- range .Upstreams}}
		server {{.}};
{{- end}}
		keepalive 64;
	}

	# text/html is always compressed; these are the others.
	gzip on;
	gzip_types application/json text/javascript text/css;

	server {
		listen {{.Addr}};

		location / {
			proxy_pass http://demo;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $http_host;
			proxy_cache pages;
			add_header X-Cache-Status $upstream_cache_status always;
			add_header X-Upstream $upstream_addr always;
		}
	}
}
`))

// Nginx is an nginx started by [StartNginx].
type Nginx struct {
	URL string // http://127.0.0.1:port
	// Dir holds nginx.conf, the cache, the temporary files and access.log
	// (one line per request: "METHOD URI STATUS cache=… upstream=…").
	Dir string
	*process
}

// StartNginx starts nginx for t as a round-robin load balancer in front of
// upstreams (host:port each), with proxy_cache on (keys_zone pages) and
// gzip on, listening on a free port on loopback, and returns once its
// workers have started. Responses carry X-Cache-Status
// ($upstream_cache_status) and X-Upstream ($upstream_addr). It stops when t
// ends.
func StartNginx(t testing.TB, upstreams ...string) *Nginx {
	t.Helper()
	exe := Require(t, "nginx", "nginx")
	dir := t.TempDir()
	// The port is free when asked for, and may be taken before nginx binds
	// it: then nginx exits, and another port is tried.
	var errs []string
	for range 3 {
		addr := freeAddr(t)
		writeConf(t, dir, addr, upstreams)
		cmd := exec.Command(exe, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr")
		p := start(t, "nginx", cmd)
		_, err := p.waitLineErr(func(l string) bool { return strings.Contains(l, "start worker process") })
		if err == nil {
			return &Nginx{URL: "http://" + addr, Dir: dir, process: p}
		}
		p.stop(t)
		if !strings.Contains(err.Error(), "Address already in use") {
			t.Fatal(err)
		}
		errs = append(errs, err.Error())
	}
	t.Fatalf("nginx found no free port:\n%s", strings.Join(errs, "\n"))
	return nil
}

// writeConf writes dir/nginx.conf for nginx listening on addr.
func writeConf(t testing.TB, dir, addr string, upstreams []string) {
	t.Helper()
	var b bytes.Buffer
	err := confTemplate.Execute(&b, map[string]any{
		"Dir": dir, "Addr": addr, "Upstreams": upstreams, "Root": os.Geteuid() == 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
