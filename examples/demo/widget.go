package main

import (
	"bytes"
	_ "embed"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// widgetJS is the stand-in widget: instead of a chat it shows what the token
// it was handed says. It is the same script for every widget ID.
//
//go:embed widget.js
var widgetJS []byte

// widgetIDPattern is the set of widget IDs chatwidget accepts.
var widgetIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// serveWidget serves GET /widget/{id}.js, the stand-in for the script a
// vendor would serve for widget id. (A ServeMux wildcard must be a whole path
// segment, so the pattern is /widget/{file} and the .js is cut here.)
func serveWidget(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".js")
	if !ok || !widgetIDPattern.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(widgetJS))
}
