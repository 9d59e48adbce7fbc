package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/imaging"
)

// bodyKind is how a request body is to be read.
type bodyKind int

const (
	bodyJSON bodyKind = iota
	bodyImage
	bodyMultipart
)

// contentKind decides from the Content-Type how to read the body. A missing
// Content-Type and text/plain are read as JSON: hand-written clients often
// send no type, and a JSON body is unambiguous. Any other type is 415.
func contentKind(header string, allowImages bool) (bodyKind, map[string]string, error) {
	if strings.TrimSpace(header) == "" {
		return bodyJSON, nil, nil
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return 0, nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not a valid media type", header)
	}
	switch {
	case mt == echo.MIMEApplicationJSON, mt == echo.MIMETextPlain, strings.HasSuffix(mt, "+json"):
		return bodyJSON, params, nil
	case allowImages && (mt == "image/png" || mt == "image/jpeg" || mt == "image/jpg"):
		return bodyImage, params, nil
	case allowImages && mt == echo.MIMEMultipartForm:
		return bodyMultipart, params, nil
	}
	want := "application/json"
	if allowImages {
		want = "application/json, image/png, image/jpeg or multipart/form-data"
	}
	hint := ""
	if mt == echo.MIMEApplicationForm {
		hint = " (curl -d sends this unless told -H 'Content-Type: application/json')"
	}
	return 0, nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %s is not supported, send %s%s", mt, want, hint)
}

// readBody reads the whole body, refusing with 413 one larger than
// Config.MaxBody: before reading when Content-Length says so, else as soon
// as the limit is passed.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	limit := s.cfg.MaxBody
	// The 413 is worded only when a body is refused, not on every request.
	tooLarge := func() error {
		drainRefused(c)
		return errorf(http.StatusRequestEntityTooLarge, "body is larger than the limit of %s", byteSize(limit))
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	body, err := readAll(http.MaxBytesReader(c.Response(), r.Body, limit), r.ContentLength)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &Error{Status: http.StatusRequestTimeout, Message: fmt.Sprintf("the body did not arrive within %v", s.cfg.readTimeout()), Err: err}
	case err != nil:
		return nil, &Error{Status: http.StatusBadRequest, Message: "could not read the body", Err: err}
	}
	return body, nil
}

// readChunk is the piece a body of unknown length is read in.
const readChunk = 64 << 10

// readAll reads r to the end into a slice of exactly its size. io.ReadAll
// grows its slice by doubling, allocating two to three times the body
// (a 48 MB batch took 130 MB there alone); here a body of known length
// (size >= 0) is read into one slice of that size, and one of unknown
// length into chunks copied once into a slice of the size found.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size >= 0 {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("body ended after fewer bytes than its Content-Length of %d: %w", size, err)
			}
			return nil, err
		}
		return b, nil
	}
	var chunks [][]byte
	total := 0
	for {
		chunk := make([]byte, readChunk)
		n, err := fill(r, chunk)
		chunks = append(chunks, chunk[:n])
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	b := make([]byte, 0, total)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b, nil
}

// fill reads into b until it is full or r ends, returning io.EOF at the
// end of r. Unlike io.ReadFull, it passes on the reader's own errors as
// they are: a chunked body cut off before its last chunk ends in
// io.ErrUnexpectedEOF, which io.ReadFull also returns for a body that
// simply ended part way into b, so that a truncated body read as whole.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readJSONBody reads the body of a route that takes only JSON, refusing
// any other Content-Type (415) before reading.
func (s *Server) readJSONBody(c echo.Context) ([]byte, error) {
	if _, _, err := contentKind(c.Request().Header.Get(echo.HeaderContentType), false); err != nil {
		return nil, err
	}
	return s.readBody(c)
}

const (
	// drainLimit and drainTime bound how much of a refused body is read and
	// thrown away, as nginx's lingering close does: enough for the clients
	// that send a whole large upload before reading the answer.
	drainLimit = 16 << 20
	drainTime  = 5 * time.Second
)

// drainRefused reads and discards what is left of a body refused as too
// large, so that the 413 reaches the client. Closing a socket that still
// holds unread data makes the kernel send a reset, and a client that sends
// the whole body before reading (Python's urllib, with Connection: close)
// then sees "connection reset" instead of the answer. The connection is
// closed after the answer: reading more of an unwanted body is no use.
func drainRefused(c echo.Context) {
	r := c.Request()
	c.Response().Header().Set(echo.HeaderConnection, "close")
	if strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// The client waits for our answer before it sends the body; reading
		// would invite it to send what is refused anyway.
		return
	}
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(time.Now().Add(drainTime)) // unsupported under httptest: no matter
	_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
}

// maxDecodes is the most images decoded at once, however small: decoding
// is CPU work that more goroutines than cores would only slow down.
const maxDecodes = 8

// readImageBody decodes a PNG or JPEG into MNIST form. The memory decoding
// will take is read from the header first: an image needing more than
// Config.DecodeBudget is refused (413) without decoding, and the others wait
// their turn until the decodes in flight leave room for them, so a burst of
// crafted images costs at most the budget. imaging's errors already say
// what is wrong, so the message only adds which part of the request it was.
func (s *Server) readImageBody(ctx context.Context, body []byte, what string) ([]byte, error) {
	cost, err := imaging.DecodeCost(body)
	if err == nil && cost > s.cfg.DecodeBudget {
		err = fmt.Errorf("%w: decoding it would take %s, more than the limit of %s",
			imaging.ErrTooLarge, byteSize(cost), byteSize(s.cfg.DecodeBudget))
	}
	if err != nil {
		return nil, imageError(err, what)
	}
	weight := min(max(cost, s.cfg.DecodeBudget/maxDecodes), s.cfg.DecodeBudget)
	if err := s.decodes.Acquire(ctx, weight); err != nil {
		return nil, fmt.Errorf("wait to decode %s: %w", what, err)
	}
	defer s.decodes.Release(weight)
	img, err := imaging.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, imageError(err, what)
	}
	return img, nil
}

// imageError turns an imaging error into the client's 400 or 413.
func imageError(err error, what string) error {
	status := http.StatusBadRequest // any failure to decode is about the bytes sent
	if errors.Is(err, imaging.ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	return &Error{Status: status, Message: fmt.Sprintf("%s: %v", what, err), Err: err}
}

// readMultipartImage finds the file field "image" of a multipart form and
// decodes it.
func (s *Server) readMultipartImage(ctx context.Context, body []byte, params map[string]string) ([]byte, error) {
	boundary := params["boundary"]
	if boundary == "" {
		return nil, badRequest("multipart/form-data Content-Type has no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, badRequest(`multipart form has no field "image"; send the picture as the file field "image"`)
		}
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("malformed multipart form: %v", err), Err: err}
		}
		if part.FormName() != "image" {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("malformed multipart form: %v", err), Err: err}
		}
		return s.readImageBody(ctx, data, `form field "image"`)
	}
}

// byteSize writes a limit the way people say it: 1 MiB, 512 KiB, 1000 bytes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
