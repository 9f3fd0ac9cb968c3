package chatwidget

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// The content codings: a page the handler compresses is decoded, rewritten
// and encoded again in the same coding, streaming. The decoders pull their
// input (io.Reader) while the handler pushes it (Write), so each decoder
// runs in a goroutine of its own response, which works in strict turns
// with the handler's: the handler's Write hands it a chunk and waits until
// it asks for the next, taking each piece it decodes on the way; the two
// never run at once, and everything but the decoder (the injector, the
// resolver, the encoder, the inner writer) runs in the handler's goroutine.
// The goroutine ends when the body ends (finish), or is ended by abandon,
// deferred both in serve (the handler panics) and in finish (a resolver, a
// WithNonce function or a signer panics while the body's last bytes reach
// the decision): in every case before ServeHTTP returns or panics.

// A coding is a content coding (Content-Encoding) of a response body.
type coding uint8

const (
	identity      coding = iota // none: the body is the page
	gzipCoding                  // gzip, x-gzip
	deflateCoding               // deflate: zlib (RFC 1950), or raw deflate when the body has no zlib header, as browsers read it
	brotliCoding                // br
	zstdCoding                  // zstd
	otherCoding                 // one the writer does not decode, or several layered
)

// String returns the coding's Content-Encoding token.
func (c coding) String() string {
	switch c {
	case identity:
		return "identity"
	case gzipCoding:
		return "gzip"
	case deflateCoding:
		return "deflate"
	case brotliCoding:
		return "br"
	case zstdCoding:
		return "zstd"
	}
	return "other"
}

// contentCoding returns the coding of a body with the headers h, and the
// Content-Encoding as the handler set it (for the logs). Tokens are read as
// browsers read them: case-insensitively, identity ignored; more than one
// coding is otherCoding. A key in another case (h["content-encoding"])
// counts too, since net/http sends it.
func contentCoding(h http.Header) (coding, string) {
	vs := h["Content-Encoding"]
	if vs == nil {
		for k, v := range h {
			if strings.EqualFold(k, "Content-Encoding") {
				vs = append(vs, v...)
			}
		}
	}
	c, n := identity, 0
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "identity") {
				continue
			}
			n++
			switch strings.ToLower(tok) {
			case "gzip", "x-gzip":
				c = gzipCoding
			case "deflate":
				c = deflateCoding
			case "br":
				c = brotliCoding
			case "zstd":
				c = zstdCoding
			default:
				c = otherCoding
			}
		}
	}
	if n > 1 {
		c = otherCoding
	}
	return c, truncate(strings.Join(vs, ", "), 100)
}

// Limits of what a recoder keeps of a body. While none of its own bytes
// went to the client, it keeps the handler's bytes as they came (up to
// maxRaw of them) and holds its encoded output (up to maxHeld), so that a
// body that turns out not to decode can still go out untouched. Past
// either limit, at a Flush or at the end, the encoded bytes go out and the
// handler's are dropped.
const (
	maxRaw  = 64 << 10
	maxHeld = 64 << 10
)

// decodeBufSize is the size of the buffer the decoder fills for the
// injector.
const decodeBufSize = 16 << 10

// Re-encoding levels, chosen for speed at about the ratio sites use for
// pages made per request (see the README's Performance section): gzip and
// deflate at 5 (klauspost's 5 matches compress/flate's default 6 in size,
// at 2.5 times its speed), brotli at quality 4 with a 256 KiB window, zstd
// at its default level with a 1 MiB window.
const (
	flateLevel    = 5
	brotliQuality = 4
	brotliLGWin   = 18
	zstdWindow    = 1 << 20
	// zstdMaxWindow is the largest window the decoder accepts, as browsers
	// do for HTTP (RFC 9659): a frame asking for more does not decode.
	zstdMaxWindow = 8 << 20
)

// errUndecodable wraps the error of a body that does not decode as its
// Content-Encoding says.
var errUndecodable = errors.New("chatwidget: the body does not decode as its Content-Encoding says")

// errAbandoned is what the decoder reads when the handler panicked.
var errAbandoned = errors.New("chatwidget: response abandoned")

// A recoder decodes a body in the handler's coding for the injector, and
// encodes the injector's output again for the client.
type recoder struct {
	coding coding
	client io.Writer // the inner writer

	run     *decodeRun // the decoder's goroutine, once the handler wrote
	done    bool       // the decoder reached the end of the coded stream
	started bool       // the handler wrote a byte

	enc  encoder // nil until the injector writes
	zlib bool    // deflate: the body has a zlib header (else raw deflate)

	raw  []byte // the handler's bytes, while none of ours went out
	held []byte // encoded bytes, while raw is kept
	sent bool   // encoded bytes went to the client: raw is gone
	err  error  // the client's write error
}

// recoders keeps recoders and their buffers between responses.
var recoders = sync.Pool{New: func() any { return new(recoder) }}

// newRecoder returns a recoder for a body in coding c whose encoded output
// goes to client.
func newRecoder(c coding, client io.Writer) *recoder {
	rc := recoders.Get().(*recoder)
	raw, held := rc.raw[:0], rc.held[:0]
	*rc = recoder{coding: c, client: client, raw: raw, held: held}
	return rc
}

// release returns rc's encoder and rc to their pools. The decoder's
// goroutine must have ended.
func (rc *recoder) release() {
	if rc.enc != nil {
		putEncoder(rc.coding, rc.zlib, rc.enc)
	}
	rc.enc, rc.client, rc.run, rc.err = nil, nil, nil, nil
	if cap(rc.raw) <= maxRaw+decodeBufSize && cap(rc.held) <= maxHeld+decodeBufSize {
		recoders.Put(rc)
	}
}

// write decodes p, the handler's next bytes, into to. It returns the
// error of to (the client's), or derr wrapping errUndecodable when the body
// does not decode. Bytes after the end of the coded stream are dropped, as
// Chromium's decoders ignore them: after a gzip member (another member
// included), a zlib or a brotli stream, and after the four bytes that must
// follow a raw deflate stream (see rawDeflate); zstd decodes every frame,
// and fails on anything else.
func (rc *recoder) write(p []byte, to io.Writer) (err error, derr error) {
	if len(p) == 0 || rc.done {
		return nil, nil
	}
	rc.started = true
	if !rc.sent {
		if len(rc.raw)+len(p) > maxRaw {
			// Past the bound, the handler's bytes are dropped, and p is
			// never copied: one large Write costs no memory of its size.
			if err := rc.release1(); err != nil {
				return err, nil
			}
		} else {
			rc.raw = append(rc.raw, p...)
		}
	}
	if rc.run == nil {
		rc.run = startDecoder(rc.coding, p)
	} else {
		rc.run.in <- chunk{p: p}
	}
	return rc.collect(to)
}

// collect writes what the decoder decodes to to until it asks for more
// input or ends.
func (rc *recoder) collect(to io.Writer) (err error, derr error) {
	for m := range rc.run.out {
		rc.zlib = rc.zlib || m.zlib
		switch {
		case m.data != nil:
			if err == nil {
				_, err = to.Write(m.data)
			}
			rc.run.in <- chunk{} // the decoder may use its buffer again
		case m.need:
			return err, nil
		default: // the end of the coded stream, or an error
			rc.done = true
			rc.wait()
			if m.err != io.EOF {
				return err, fmt.Errorf("%w: %w", errUndecodable, m.err)
			}
			return err, nil
		}
	}
	return err, nil
}

// end tells the decoder that the body ended, and writes the rest of what it
// decodes to to.
func (rc *recoder) end(to io.Writer) (err error, derr error) {
	if rc.run == nil || rc.done {
		return nil, nil
	}
	rc.run.in <- chunk{end: true}
	return rc.collect(to)
}

// wait waits until the decoder's goroutine has ended.
func (rc *recoder) wait() {
	for range rc.run.out {
	}
}

// abandon ends the decoder's goroutine, if one runs, without reading what
// it decodes: the handler, or the widget's code while the body ended,
// panicked. It is idempotent.
func (rc *recoder) abandon() {
	if rc.run != nil && !rc.done {
		close(rc.run.in)
		rc.wait()
		rc.done = true
	}
}

// untouched returns every byte the handler wrote, when none of the
// recoder's own went to the client, and drops the encoder's output: the
// body can then go out as the handler wrote it.
func (rc *recoder) untouched() ([]byte, bool) {
	if rc.sent {
		return nil, false
	}
	rc.held = rc.held[:0]
	rc.sent = true // nothing more of ours goes out
	return rc.raw, true
}

// Write takes the injector's output: it encodes it for the client.
func (rc *recoder) Write(p []byte) (int, error) {
	if rc.err != nil {
		return 0, rc.err
	}
	if rc.enc == nil {
		rc.enc = getEncoder(rc.coding, rc.zlib, sink{rc})
	}
	if _, err := rc.enc.Write(p); err != nil {
		return 0, err
	}
	return len(p), rc.err
}

// sink is where the encoder writes: the client, or the held bytes while
// the handler's are kept.
type sink struct{ rc *recoder }

func (s sink) Write(p []byte) (int, error) {
	rc := s.rc
	if rc.err != nil {
		return 0, rc.err
	}
	if !rc.sent && len(rc.held)+len(p) <= maxHeld {
		rc.held = append(rc.held, p...)
		return len(p), nil
	}
	if err := rc.release1(); err != nil {
		return 0, err
	}
	if _, err := rc.client.Write(p); err != nil {
		rc.err = err
		return 0, err
	}
	return len(p), nil
}

// release1 sends the held encoded bytes to the client and drops the
// handler's: from here on, the client gets the re-encoded body.
func (rc *recoder) release1() error {
	if rc.sent {
		return rc.err
	}
	rc.sent, rc.raw = true, rc.raw[:0]
	if len(rc.held) > 0 {
		if _, err := rc.client.Write(rc.held); err != nil {
			rc.err = err
		}
		rc.held = rc.held[:0]
	}
	return rc.err
}

// flush makes every byte the injector wrote reach the inner writer:
// the encoder flushes (a sync flush, which the client can decode up to),
// and the held bytes go out.
func (rc *recoder) flush() error {
	if rc.enc != nil {
		if err := rc.enc.Flush(); err != nil {
			return err
		}
	}
	return rc.release1()
}

// close ends the encoded stream and sends what is held. A body the handler
// wrote nothing of stays empty.
func (rc *recoder) close() error {
	if rc.enc == nil && rc.started && rc.err == nil {
		rc.enc = getEncoder(rc.coding, rc.zlib, sink{rc})
	}
	if rc.enc != nil {
		if err := rc.enc.Close(); err != nil && rc.err == nil {
			rc.err = err
		}
	}
	if err := rc.release1(); err != nil {
		return err
	}
	return rc.err
}

// A chunk is what the handler's goroutine hands the decoder's: the next
// bytes of the body (p), the end of the body (end), or, after a piece of
// decoded data, leave to go on (neither).
type chunk struct {
	p   []byte
	end bool
}

// A piece is what the decoder's goroutine hands back: decoded bytes (data,
// valid until the decoder goes on), a request for more input (need), or
// its end (err: io.EOF at the end of the coded stream). zlib reports that a
// deflate body has a zlib header.
type piece struct {
	data []byte
	need bool
	err  error
	zlib bool
}

// A decodeRun is one decoder's goroutine and the channels it works in
// turns over.
type decodeRun struct {
	in  chan chunk
	out chan piece
	src source
}

// startDecoder starts decoding a body in coding c whose first bytes are
// first. The goroutine ends, closing out, when the coded stream ends, when
// it fails to decode, or when in is closed.
func startDecoder(c coding, first []byte) *decodeRun {
	d := &decodeRun{in: make(chan chunk), out: make(chan piece)}
	d.src = source{run: d, p: first}
	go d.decode(c)
	return d
}

// decode runs in the decoder's goroutine: its last piece says how the coded
// stream ended, unless the handler abandoned it.
func (d *decodeRun) decode(c coding) {
	defer close(d.out)
	if err := d.decodeAll(c); err != errAbandoned {
		d.out <- piece{err: err}
	}
}

// decodeAll decodes the body, handing each piece over, and returns io.EOF
// at the end of the coded stream. A decoder that panics (a bug of the
// coder's on this input) counts as a body that does not decode, and is not
// used again.
func (d *decodeRun) decodeAll(c coding) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the %s decoder panicked: %v", c, p)
		}
	}()
	// The flate decoders read a *bufio.Reader fastest. It asks the
	// source for more only when it is empty, and so only when the decoder
	// needs more input.
	br := bufioReaders.Get().(*bufio.Reader)
	br.Reset(&d.src)
	defer func() {
		br.Reset(emptyReader{})
		bufioReaders.Put(br)
	}()
	dec, zl, err := getDecoder(c, br)
	if err != nil {
		return d.src.cause(err)
	}
	r := dec
	if c == deflateCoding && !zl {
		r = &rawDeflate{r: dec, br: br, sum: adler32.New()}
	}
	buf := decodeBufs.Get().(*[]byte)
	for {
		n, err := r.Read(*buf)
		if c == brotliCoding && brotliExcess(err) {
			err = io.EOF // the stream ended; the bytes after it are ignored
		}
		if n > 0 {
			d.out <- piece{data: (*buf)[:n], zlib: zl}
			if m, ok := <-d.in; !ok || m.end || m.p != nil {
				err = errAbandoned // a handler out of turn is one that panicked
			}
		}
		if err != nil {
			decodeBufs.Put(buf)
			putDecoder(c, zl, dec)
			return d.src.cause(err)
		}
	}
}

// brotliExcess reports whether err is the brotli reader's for input past
// the end of the stream, which it returns once it has decoded the whole
// stream (TestTrailingBytes notices if its message changes).
func brotliExcess(err error) bool {
	return err != nil && err.Error() == "brotli: excessive input"
}

// A rawDeflate reads a raw deflate body as Chromium does: as a zlib stream
// to which it gave a header, so that the four bytes after the deflate
// stream must be the Adler-32 of what it decoded, if the body has that
// many; what follows them is ignored.
type rawDeflate struct {
	r   io.Reader // the flate decoder
	br  *bufio.Reader
	sum hash.Hash32
	eof bool // the deflate stream ended
}

func (d *rawDeflate) Read(p []byte) (int, error) {
	if d.eof {
		return 0, d.check()
	}
	n, err := d.r.Read(p)
	d.sum.Write(p[:n])
	if err == io.EOF {
		d.eof = true
		if n == 0 {
			return 0, d.check()
		}
		err = nil // the bytes first, then the check
	}
	return n, err
}

// check reads the four bytes after the deflate stream: io.EOF if they are
// its Adler-32 or the body ends before them.
func (d *rawDeflate) check() error {
	var b [4]byte
	n, err := io.ReadFull(d.br, b[:])
	switch {
	case n < len(b) && (err == io.EOF || err == io.ErrUnexpectedEOF):
		return io.EOF
	case err != nil:
		return err
	case binary.BigEndian.Uint32(b[:]) != d.sum.Sum32():
		return errors.New("the 4 bytes after the raw deflate stream are not its Adler-32, which Chromium checks")
	}
	return io.EOF
}

var (
	decodeBufs   = sync.Pool{New: func() any { b := make([]byte, decodeBufSize); return &b }}
	bufioReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
)

// source is the decoder's input: the chunks the handler's writes hand over.
type source struct {
	run *decodeRun
	p   []byte
	eof bool
	err error // errAbandoned
}

// cause returns errAbandoned if the handler abandoned the body, else err.
func (s *source) cause(err error) error {
	if s.err != nil {
		return s.err
	}
	return err
}

// Read gives the decoder the rest of the current chunk, or asks the
// handler's goroutine for the next.
func (s *source) Read(b []byte) (int, error) {
	for len(s.p) == 0 {
		if s.eof || s.err != nil {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		s.run.out <- piece{need: true}
		m, ok := <-s.run.in
		switch {
		case !ok:
			s.err = errAbandoned
		case m.end:
			s.eof = true
		default:
			s.p = m.p
		}
	}
	n := copy(b, s.p)
	s.p = s.p[n:]
	return n, nil
}

// An encoder is one of the coders' writers.
type encoder interface {
	io.WriteCloser
	Flush() error
}

var (
	gzipWriters  = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, flateLevel); return w }}
	zlibWriters  = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, flateLevel); return w }}
	flateWriters = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flateLevel); return w }}
	brWriters    = sync.Pool{New: func() any {
		return brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliLGWin})
	}}
	zstdWriters = sync.Pool{New: func() any {
		w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // fixed, valid options
		}
		return w
	}}
)

// getEncoder returns an encoder for coding c (deflate: zlib-wrapped if
// zl) that writes to w.
func getEncoder(c coding, zl bool, w io.Writer) encoder {
	switch c {
	case gzipCoding:
		e := gzipWriters.Get().(*gzip.Writer)
		e.Reset(w)
		return e
	case deflateCoding:
		if zl {
			e := zlibWriters.Get().(*zlib.Writer)
			e.Reset(w)
			return e
		}
		e := flateWriters.Get().(*flate.Writer)
		e.Reset(w)
		return e
	case brotliCoding:
		e := brWriters.Get().(*brotli.Writer)
		e.Reset(w)
		return e
	case zstdCoding:
		e := zstdWriters.Get().(*zstd.Encoder)
		e.Reset(w)
		return e
	}
	panic("chatwidget: no encoder for " + c.String())
}

// putEncoder returns e, made by getEncoder(c, zl, …), to its pool.
func putEncoder(c coding, zl bool, e encoder) {
	switch c {
	case gzipCoding:
		e.(*gzip.Writer).Reset(nil)
		gzipWriters.Put(e)
	case deflateCoding:
		if zl {
			e.(*zlib.Writer).Reset(nil)
			zlibWriters.Put(e)
		} else {
			e.(*flate.Writer).Reset(nil)
			flateWriters.Put(e)
		}
	case brotliCoding:
		e.(*brotli.Writer).Reset(nil)
		brWriters.Put(e)
	case zstdCoding:
		e.(*zstd.Encoder).Reset(nil)
		zstdWriters.Put(e)
	}
}

var (
	gzipReaders  sync.Pool // *gzip.Reader
	zlibReaders  sync.Pool // io.ReadCloser from zlib.NewReader
	flateReaders sync.Pool // io.ReadCloser from flate.NewReader
	brReaders    sync.Pool // *brotli.Reader
	zstdReaders  = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			panic(err) // fixed, valid options
		}
		return d
	}}
)

// getDecoder returns a decoder for coding c that reads s, and for deflate
// whether the body has a zlib header (read from its first two bytes, as
// browsers tell the two apart). It reads the stream's header.
func getDecoder(c coding, s *bufio.Reader) (io.Reader, bool, error) {
	switch c {
	case gzipCoding:
		// One member, as Chromium reads it: what follows is ignored, a
		// second member too. Reset makes a reader multistream again.
		d, ok := gzipReaders.Get().(*gzip.Reader)
		var err error
		if ok {
			err = d.Reset(s)
		} else {
			d, err = gzip.NewReader(s)
		}
		if err != nil {
			return d, false, err
		}
		d.Multistream(false)
		return d, false, nil
	case deflateCoding:
		h, err := s.Peek(2)
		if err != nil {
			return nil, false, err
		}
		if zlibHeader([2]byte(h)) {
			if d, ok := zlibReaders.Get().(io.ReadCloser); ok {
				return d, true, d.(zlib.Resetter).Reset(s, nil)
			}
			d, err := zlib.NewReader(s)
			return d, true, err
		}
		if d, ok := flateReaders.Get().(io.ReadCloser); ok {
			return d, false, d.(flate.Resetter).Reset(s, nil)
		}
		return flate.NewReader(s), false, nil
	case brotliCoding:
		if d, ok := brReaders.Get().(*brotli.Reader); ok {
			return d, false, d.Reset(s)
		}
		return brotli.NewReader(s), false, nil
	case zstdCoding:
		d := zstdReaders.Get().(*zstd.Decoder)
		return d, false, d.Reset(s)
	}
	return nil, false, fmt.Errorf("no decoder for %s", c)
}

// putDecoder returns d, made by getDecoder, to its pool, reset to read
// nothing so that it keeps no response alive.
func putDecoder(c coding, zl bool, d io.Reader) {
	switch c {
	case gzipCoding:
		d.(*gzip.Reader).Reset(emptyReader{}) //nolint:errcheck // io.EOF: nothing to read
		gzipReaders.Put(d)
	case deflateCoding:
		if zl {
			d.(zlib.Resetter).Reset(emptyReader{}, nil) //nolint:errcheck // io.EOF: nothing to read
			zlibReaders.Put(d)
		} else {
			d.(flate.Resetter).Reset(emptyReader{}, nil) //nolint:errcheck // nothing to read
			flateReaders.Put(d)
		}
	case brotliCoding:
		d.(*brotli.Reader).Reset(emptyReader{}) //nolint:errcheck // nothing to read
		brReaders.Put(d)
	case zstdCoding:
		d.(*zstd.Decoder).Reset(nil)
		zstdReaders.Put(d)
	}
}

// zlibHeader reports whether h, a body's first two bytes, are a zlib
// header: deflate, a window of at most 32 KiB, no preset dictionary, and
// the check bits right.
func zlibHeader(h [2]byte) bool {
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && h[1]&0x20 == 0 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// emptyReader reads nothing; pooled decoders are reset to it.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) ReadByte() (byte, error)  { return 0, io.EOF }
