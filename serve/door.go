package serve

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Shedding at the door. The admission queue's 503 alone does not hold the
// admitted requests' latency under overload: each refused request still
// takes a connection goroutine through the HTTP server, the middleware
// chain and the error handler, and a thousand clients that ask again at
// once keep hundreds of those goroutines runnable. Go's scheduler has no
// priorities, so every wake-up of an admitted request (its commit's reply
// from the database, then its answer) waits its turn behind all of them:
// on two cores that was 300-500 ms at p99 (BENCHMARKS.md, overload).
//
// So while the queue is full, a new connection does not reach the HTTP
// server at once. The accept loop reads what the client has sent already,
// without waiting: a whole prediction request gets the queue-full 503 (the
// same JSON error and Retry-After) right there, and its connection is
// closed, with no goroutine at all. Otherwise a small goroutine reads the
// request line; a prediction request gets the same 503, and its connection
// is closed after the rest of what the client sends is read and dropped,
// as nginx's lingering close does, so a client that sends its whole body
// first still reads the 503 instead of a reset. Every other request
// (probes, /metrics, the page, admin routes), and any request once the
// queue has room again, goes to the HTTP server as usual, with the bytes
// read put back in front. Connections already open are not touched: their
// requests meet the queue's own 503 as before.

const (
	// doorHeadLimit bounds the bytes read looking for the request line.
	doorHeadLimit = 4 << 10
	// doorLogEvery is how often at most refusals for a full queue are
	// logged: one line with the count, not one per refused request.
	doorLogEvery = 10 * time.Second
)

// doorListener hands the HTTP server the connections it accepts, except
// prediction requests that arrive while the admission queue is full, which
// it answers 503 itself.
type doorListener struct {
	net.Listener
	full   func() bool                     // the admission queue has no free slot
	answer []byte                          // the whole 503 response
	shed   func(route string, head []byte) // counts, logs and traces one refused request
	accept chan net.Conn                   // what Accept returns
	errs   chan error                      // Accept's errors, passed on in order
	done   chan struct{}                   // closed by Close
	start  sync.Once                       // starts the accept loop
	closed sync.Once                       // closes done
	routes []string                        // "POST /predict", "POST /v2/models/:model/infer"
	// headTime bounds the wait for a connection's first request head,
	// counted from accept: the door's wait for the request line and the
	// HTTP server's for the headers share it (Config.HeaderTimeout).
	headTime time.Duration
}

// newDoorListener wraps ln. routes are the "METHOD /pattern" of the routes
// it may refuse (the route table's shed routes; a ":name" segment matches
// any one segment), answer the whole 503 response it sends.
func newDoorListener(ln net.Listener, full func() bool, routes []string, answer []byte, headTime time.Duration, shed func(route string, head []byte)) *doorListener {
	return &doorListener{
		headTime: headTime,
		Listener: ln,
		full:     full,
		answer:   answer,
		shed:     shed,
		accept:   make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
		routes:   routes,
	}
}

// route returns the route label of target ("METHOD /path"), and whether it
// is one the door may refuse.
func (l *doorListener) route(target string) (string, bool) {
	for _, r := range l.routes {
		if label, ok := matchRoute(r, target); ok {
			return label, true
		}
	}
	return "", false
}

// matchRoute reports whether target ("METHOD /path") is a request for the
// route pattern ("METHOD /a/:b/c"), and returns the pattern's path.
func matchRoute(pattern, target string) (string, bool) {
	pm, pp, _ := strings.Cut(pattern, " ")
	tm, tp, ok := strings.Cut(target, " ")
	if !ok || pm != tm {
		return "", false
	}
	for pp != "" || tp != "" {
		var ps, ts string
		ps, pp, _ = strings.Cut(pp, "/")
		ts, tp, _ = strings.Cut(tp, "/")
		if ps != ts && (!strings.HasPrefix(ps, ":") || ts == "") {
			return "", false
		}
	}
	return pattern[len(pm)+1:], true
}

// Accept returns the next connection for the HTTP server.
func (l *doorListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.loop() })
	select {
	case c := <-l.accept:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections at the door finish on their own.
func (l *doorListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// loop accepts connections until the listener is closed, sending each to
// the door while the queue is full and straight to Accept otherwise.
func (l *doorListener) loop() {
	buf := make([]byte, doorHeadLimit)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// The HTTP server backs off on a temporary error and calls
			// Accept again; on any other it stops, and so does the loop.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if isTemporary(err) {
				continue
			}
			return
		}
		headBy := time.Now().Add(l.headTime)
		if !l.full() {
			l.handOver(&prefixConn{Conn: c, headBy: headBy})
			continue
		}
		// Most clients have sent their whole request by the time it is
		// accepted: refuse it here, without a goroutine, when it is all in.
		n := readNow(c, buf)
		if n > 0 && l.refuseNow(c, buf[:n]) {
			continue
		}
		go l.door(c, bytes.Clone(buf[:n]), headBy)
	}
}

// refuseNow answers the request in head with the 503 and closes c, when
// head holds the whole of a prediction request and the queue is still full.
// Nothing is left unread, so closing sends no reset.
func (l *doorListener) refuseNow(c net.Conn, head []byte) bool {
	route, refuse := l.route(requestTarget(head))
	if !refuse || !requestComplete(head) || !l.full() {
		return false
	}
	l.refuse(c, route, head, false)
	return true
}

// refuse counts the request, whose head (as much of it as was read) is
// head, and answers it the 503. With linger, what the client still sends
// is read and dropped before c is closed (lingerClose); without, nothing
// is left unread, so closing at once sends no reset.
func (l *doorListener) refuse(c net.Conn, route string, head []byte, linger bool) {
	l.shed(route, head)
	_ = c.SetWriteDeadline(time.Now().Add(drainTime))
	if _, err := c.Write(l.answer); err == nil && linger {
		lingerClose(c)
		return
	}
	_ = c.Close()
}

// isTemporary reports what net/http's Serve itself checks before it backs
// off and calls Accept again (net.Error's deprecated Temporary).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// handOver gives c to the HTTP server, or closes it once the listener is.
func (l *doorListener) handOver(c net.Conn) {
	select {
	case l.accept <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// door reads c's request line, after the head bytes already read, and
// either refuses it or hands it over with what was read put back in front.
func (l *doorListener) door(c net.Conn, head []byte, headBy time.Time) {
	buf := make([]byte, doorHeadLimit)
	n := copy(buf, head)
	_ = c.SetReadDeadline(headBy)
	for n < len(buf) && bytes.IndexByte(buf[:n], '\n') < 0 {
		k, err := c.Read(buf[n:])
		n += k
		if err != nil {
			if n == 0 {
				_ = c.Close() // nothing asked: nothing to answer
				return
			}
			break // let the HTTP server word what is wrong with it
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	route, refuse := l.route(requestTarget(buf[:n]))
	if !refuse || !l.full() {
		l.handOver(&prefixConn{Conn: c, prefix: buf[:n], headBy: headBy})
		return
	}
	l.refuse(c, route, buf[:n], true)
}

// shedLog counts requests refused because the queue is full and logs the
// count at most every doorLogEvery: under overload a line per refusal
// would be thousands of lines a second.
type shedLog struct {
	count atomic.Int64 // refused since the last line
	total atomic.Int64 // refused since the start, for the metrics
	last  atomic.Int64 // unix nanoseconds of the last line
	log   func(refused int64)
}

// add counts one refused request, and logs the count when the last line is
// older than doorLogEvery (the first refusal is logged at once).
func (l *shedLog) add() {
	l.total.Add(1)
	l.count.Add(1)
	now := time.Now().UnixNano()
	if old := l.last.Load(); now-old >= int64(doorLogEvery) && l.last.CompareAndSwap(old, now) {
		l.log(l.count.Swap(0))
	}
}

// lingerClose closes c after the client has had the answer: it ends the
// writing side, then reads and drops what the client still sends (bounded
// by drainLimit and drainTime, as a refused body is), so that closing with
// unread data does not reset the connection before the answer is read.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(drainTime))
	_, _ = io.CopyN(io.Discard, c, drainLimit)
	_ = c.Close()
}

// requestTarget returns "METHOD /path" of the request line at the start of
// head (the query left out), or "" when there is no whole line.
func requestTarget(head []byte) string {
	line, _, ok := bytes.Cut(head, []byte("\n"))
	if !ok {
		return ""
	}
	method, rest, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(" "))
	if !ok {
		return ""
	}
	target, _, _ := bytes.Cut(rest, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	return string(method) + " " + string(path)
}

// requestComplete reports whether head holds a whole request: its header
// block and a Content-Length body that has all arrived.
func requestComplete(head []byte) bool {
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	length := -1
	_, rest, _ := bytes.Cut(head[:end], []byte("\r\n")) // past the request line
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		switch {
		case !ok:
			return false
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
			return false
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")):
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || n < 0 || length >= 0 {
				return false
			}
			length = n
		}
	}
	return length >= 0 && len(head)-(end+4) == length
}

// prefixConn is a connection as the door hands it to the HTTP server:
// its first bytes may have been read already (Read returns them before
// reading on), and its first request head is due by headBy, counted from
// accept. The HTTP server's first read deadline is that of the head
// (ReadHeaderTimeout from when it starts on the connection); it is moved
// no later than headBy, so time spent at the door counts against it
// instead of adding to it. Later deadlines pass unchanged.
type prefixConn struct {
	net.Conn
	prefix  []byte
	headBy  time.Time
	started bool // the first read deadline was set
}

// SetReadDeadline clamps the first deadline set to headBy.
func (c *prefixConn) SetReadDeadline(t time.Time) error {
	if !c.started {
		c.started = true
		if !c.headBy.IsZero() && (t.IsZero() || t.After(c.headBy)) {
			t = c.headBy
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *prefixConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets the HTTP server's own lingering close work on it.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
