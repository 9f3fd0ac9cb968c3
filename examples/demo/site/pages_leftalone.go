package site

// This file holds the pages listed under "What is left alone" on the home
// page: responses the chatwidget middleware passes through byte for byte (an
// image, a download, server-sent events, an HTML fragment, a script), and
// for contrast a streamed HTML page that does get the widget without being
// held back.

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// streamParts is how many paragraphs /stream writes, one flush each.
const streamParts = 3

// eventCount is how many events /events sends before its end event.
const eventCount = 3

// fragmentHTML is the body of GET /fragment: list items, not a document.
const fragmentHTML = "<li>Chat widget seat × 1</li>\n<li>Transcript export × 1</li>\n"

// leftAloneJS drives the home page's fragment and events buttons.
//
//go:embed leftalone.js
var leftAloneJS []byte

// leftAlone serves the pages of this file. Its content is made once, by
// newLeftAlone.
type leftAlone struct {
	png     []byte    // GET /image.png
	started time.Time // the image's Last-Modified
	csv     []byte    // GET /download
	stream  *template.Template
	wait    func(ctx context.Context) error
	logger  *slog.Logger
}

// newLeftAlone makes the image, the export and the streamed page's template.
// wait paces /stream and /events; nil: [waitASecond].
func newLeftAlone(wait func(ctx context.Context) error, logger *slog.Logger) (*leftAlone, error) {
	if wait == nil {
		wait = waitASecond
	}
	img, err := demoPNG()
	if err != nil {
		return nil, fmt.Errorf("encode the demo image: %w", err)
	}
	export, err := transcriptsCSV()
	if err != nil {
		return nil, fmt.Errorf("write the demo export: %w", err)
	}
	stream, err := template.ParseFS(templateFS, "templates/stream.html")
	if err != nil {
		return nil, err
	}
	return &leftAlone{
		png:     img,
		started: time.Now(),
		csv:     export,
		stream:  stream,
		wait:    wait,
		logger:  logger,
	}, nil
}

// register adds the pages to mux. GET /api/me, also left alone, is the app's.
func (la *leftAlone) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /image.png", la.servePNG)
	mux.HandleFunc("GET /download", la.serveDownload)
	mux.HandleFunc("GET /events", la.serveEvents)
	mux.HandleFunc("GET /fragment", serveFragment)
	mux.HandleFunc("GET /stream", la.serveStream)
	mux.HandleFunc("GET /leftalone.js", serveLeftAloneJS)
}

// waitASecond waits one second, or until ctx is done.
func waitASecond(ctx context.Context) error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// demoPNG returns a 32×32 PNG: a blue chat bubble on a transparent ground.
// The same call always returns the same bytes.
func demoPNG() ([]byte, error) {
	const size = 32
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{R: 0x25, G: 0x63, B: 0xeb, A: 0xff}
	for y := range size {
		for x := range size {
			dx, dy := x-size/2, y-size/2+3
			inBubble := dx*dx+dy*dy <= 12*12
			inTail := y >= 24 && y < 31 && x >= 6 && x < 6+(31-y)
			if inBubble || inTail {
				img.SetNRGBA(x, y, blue)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// servePNG serves GET /image.png with http.ServeContent, which answers Range
// and conditional requests and may use sendfile: the middleware delegates
// ReadFrom when it passes a body through.
func (la *leftAlone) servePNG(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "image.png", la.started, bytes.NewReader(la.png))
}

// transcriptsCSV returns the body of GET /download: a CSV export whose text
// quotes HTML, </body> included, which the middleware must not take for a
// page.
func transcriptsCSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	err := w.WriteAll([][]string{
		{"time", "from", "message"},
		{"2025-05-01T09:12:00Z", "Alice Example", "Where does the widget go? Before </body>?"},
		{"2025-05-01T09:13:30Z", "Support", `Yes: <script src="…"></script> right before </body></html>, or let the middleware do it.`},
	})
	return buf.Bytes(), err
}

// serveDownload serves GET /download: the export as an attachment, with its
// Content-Length.
func (la *leftAlone) serveDownload(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="transcripts.csv"`)
	h.Set("Content-Length", strconv.Itoa(len(la.csv)))
	h.Set("Cache-Control", "no-store")
	w.Write(la.csv)
}

// event returns event n of GET /events. Its data looks like the end of a
// page, which the middleware must leave alone all the same.
func event(n int) string {
	return fmt.Sprintf("id: %d\ndata: <p>Event %d of %d</p></body></html>\n\n", n, n, eventCount)
}

// endEvent is the last event of GET /events, which tells the page's
// EventSource to close rather than reconnect.
const endEvent = "event: end\ndata: no more events\n\n"

// serveEvents serves GET /events: eventCount server-sent events, each flushed,
// paced by la.wait, then endEvent.
func (la *leftAlone) serveEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	for n := 1; n <= eventCount; n++ {
		if n > 1 && la.wait(r.Context()) != nil {
			return // the client went away
		}
		if _, err := io.WriteString(w, event(n)); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			la.logger.Error("demo: flush events", "error", err)
			return
		}
	}
	io.WriteString(w, endEvent)
}

// serveFragment serves GET /fragment: list items that a script (htmx, Turbo, a
// plain fetch) swaps into a page. They get no widget, whichever way they are
// asked for: htmx's and Turbo's headers tell the middleware so, and without
// them the items begin no document.
func serveFragment(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, fragmentHTML)
}

// streamPart is what the template "stream-part" is given.
type streamPart struct {
	N, Of int
}

// serveStream serves GET /stream: an HTML page written and flushed in
// streamParts parts, paced by la.wait. The middleware inserts the widget
// before its </body> without holding back the parts before it.
func (la *leftAlone) serveStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rc := http.NewResponseController(w)
	if err := la.stream.ExecuteTemplate(w, "stream-head", nil); err != nil {
		la.logger.Error("demo: render stream", "error", err)
		return
	}
	for n := 1; n <= streamParts; n++ {
		if n > 1 && la.wait(r.Context()) != nil {
			return // the client went away
		}
		if err := la.stream.ExecuteTemplate(w, "stream-part", streamPart{N: n, Of: streamParts}); err != nil {
			la.logger.Error("demo: render stream", "error", err)
			return
		}
		if err := rc.Flush(); err != nil {
			la.logger.Error("demo: flush stream", "error", err)
			return
		}
	}
	if err := la.stream.ExecuteTemplate(w, "stream-tail", nil); err != nil {
		la.logger.Error("demo: render stream", "error", err)
	}
}

// serveLeftAloneJS serves GET /leftalone.js, the home page's buttons.
func serveLeftAloneJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(leftAloneJS))
}
