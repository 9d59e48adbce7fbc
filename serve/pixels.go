package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/mnistserve/app/mnist"
)

// side is the width and height of an MNIST image; pixels is their product.
const (
	side   = mnist.Side
	pixels = mnist.Pixels
)

// wantImage says what an image must look like, for error messages.
const wantImage = "want 28 rows of 28 integers 0..255, or 784 integers"

// exampleBody shows the shape of a /predict body, for error messages.
const exampleBody = `{"image": [[28 integers 0..255], ... 28 rows]}`

// decodeObject parses a JSON body that must be an object, keeping its field
// values raw so that each can be checked with a precise message.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, badRequest("body is empty, want a JSON object like %s", exampleBody)
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("body is not valid JSON: %v", err), Err: err}
	}
	if body[0] != '{' {
		return nil, badRequest("body is %s, want a JSON object like %s", kind(body), exampleBody)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("body is not valid JSON: %v", err), Err: err}
	}
	return obj, nil
}

// field returns the value of a field that must be present.
func field(obj map[string]json.RawMessage, name string) (json.RawMessage, error) {
	raw, ok := obj[name]
	if !ok {
		return nil, badRequest("missing field %q", name)
	}
	return raw, nil
}

// parseImage reads one image in either JSON form the API takes: 28 rows of
// 28 integers, or 784 integers row by row. Integers may be written 7 or 7.0,
// but 0.5, "12", true and null are refused, each with its position.
func parseImage(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("image is %s, %s", kind(raw), wantImage)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("image: %v", err)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("image is an empty array, %s", wantImage)
	}
	if first := bytes.TrimSpace(elems[0]); len(first) > 0 && first[0] == '[' {
		return parseRows(elems)
	}
	return parseFlat(elems)
}

// parseRows reads the 28x28 form.
func parseRows(rows []json.RawMessage) ([]byte, error) {
	if len(rows) != side {
		return nil, fmt.Errorf("image has %d rows, want %d", len(rows), side)
	}
	img := make([]byte, 0, pixels)
	for r, raw := range rows {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '[' {
			return nil, fmt.Errorf("row %d is %s, want an array of %d integers 0..255", r, describe(raw), side)
		}
		var vals []json.RawMessage
		if err := json.Unmarshal(raw, &vals); err != nil {
			return nil, fmt.Errorf("row %d: %v", r, err)
		}
		if len(vals) != side {
			return nil, fmt.Errorf("row %d has %d values, want %d", r, len(vals), side)
		}
		for col, v := range vals {
			p, err := parsePixel(v)
			if err != nil {
				return nil, fmt.Errorf("pixel at row %d, column %d %w", r, col, err)
			}
			img = append(img, p)
		}
	}
	return img, nil
}

// parseFlat reads the 784-value form.
func parseFlat(vals []json.RawMessage) ([]byte, error) {
	if len(vals) != pixels {
		return nil, fmt.Errorf("flat image has %d values, want %d", len(vals), pixels)
	}
	img := make([]byte, pixels)
	for i, v := range vals {
		p, err := parsePixel(v)
		if err != nil {
			return nil, fmt.Errorf("pixel %d %w", i, err)
		}
		img[i] = p
	}
	return img, nil
}

// errPixel is wrapped by every refused pixel value.
var errPixel = errors.New("want an integer 0..255")

// parsePixel reads one value, which must be a JSON number holding an
// integer 0..255. Its error reads after "pixel at ...": "is 256, want ...".
func parsePixel(raw json.RawMessage) (byte, error) {
	raw = bytes.TrimSpace(raw)
	if kind(raw) != "a number" {
		return 0, fmt.Errorf("is %s, %w", describe(raw), errPixel)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > 255 {
		return 0, fmt.Errorf("is %s, %w", describe(raw), errPixel)
	}
	return byte(f), nil
}

// kind names the JSON type of raw, for error messages.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "missing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// describe shows a scalar as written (shortened) and its type, so that the
// client sees which value was refused: 256, "12" (a string), true (a boolean).
func describe(raw []byte) string {
	k := kind(raw)
	switch k {
	case "an object", "an array", "null", "missing":
		return k
	}
	lit := string(raw)
	if len(lit) > 24 {
		lit = lit[:21] + "..."
	}
	if k == "a number" {
		return lit
	}
	return lit + " (" + k + ")"
}
