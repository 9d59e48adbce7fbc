package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

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

// decodeObject checks that a JSON body is an object and returns it for
// member to read fields from. Invalid JSON is refused with encoding/json's
// words; the check is one pass that builds nothing.
func decodeObject(body []byte) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, invalid("body is empty, want a JSON object like %s", exampleBody)
	}
	if !json.Valid(body) {
		// Unmarshal checks the whole input before decoding anything, so on
		// invalid JSON it only words the syntax error.
		var v any
		err := json.Unmarshal(body, &v)
		return nil, invalid("body is not valid JSON: %v", err)
	}
	if body[0] != '{' {
		return nil, invalid("body is %s, want a JSON object like %s", kind(body), exampleBody)
	}
	return body, nil
}

// field returns the value of a field that must be present.
func field(obj []byte, name string) ([]byte, error) {
	raw, ok := member(obj, name)
	if !ok {
		return nil, invalid("missing field %q", name)
	}
	return raw, nil
}

// parseImage reads one image in either JSON form the API takes: 28 rows of
// 28 integers, or 784 integers row by row. Integers may be written 7 or 7.0,
// but 0.5, "12", true and null are refused, each with its position. raw is
// a value of a validated body.
func parseImage(raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("image is %s, %s", kind(raw), wantImage)
	}
	n := countElements(raw)
	if n == 0 {
		return nil, fmt.Errorf("image is an empty array, %s", wantImage)
	}
	var first []byte
	elements(raw, func(_ int, e []byte) bool { first = e; return false })
	if first[0] == '[' {
		if n != side {
			return nil, fmt.Errorf("image has %d rows, want %d", n, side)
		}
		return parseRows(raw)
	}
	if n != pixels {
		return nil, fmt.Errorf("flat image has %d values, want %d", n, pixels)
	}
	return parseFlat(raw)
}

// parseRows reads the 28x28 form, row by row, so that the first bad row or
// pixel is the one named.
func parseRows(raw []byte) ([]byte, error) {
	img := make([]byte, 0, pixels)
	var err error
	elements(raw, func(r int, row []byte) bool {
		if row[0] != '[' {
			err = fmt.Errorf("row %d is %s, want an array of %d integers 0..255", r, describe(row), side)
			return false
		}
		if n := countElements(row); n != side {
			err = fmt.Errorf("row %d has %d values, want %d", r, n, side)
			return false
		}
		elements(row, func(col int, v []byte) bool {
			var p byte
			if p, err = parsePixel(v); err != nil {
				err = fmt.Errorf("pixel at row %d, column %d %w", r, col, err)
				return false
			}
			img = append(img, p)
			return true
		})
		return err == nil
	})
	return img, err
}

// parseFlat reads the 784-value form.
func parseFlat(raw []byte) ([]byte, error) {
	img := make([]byte, 0, pixels)
	var err error
	elements(raw, func(i int, v []byte) bool {
		var p byte
		if p, err = parsePixel(v); err != nil {
			err = fmt.Errorf("pixel %d %w", i, err)
			return false
		}
		img = append(img, p)
		return true
	})
	return img, err
}

// errPixel is wrapped by every refused pixel value.
var errPixel = errors.New("want an integer 0..255")

// parsePixel reads one value, which must be a JSON number holding an
// integer 0..255. Its error reads after "pixel at ...": "is 256, want ...".
func parsePixel(raw []byte) (byte, error) {
	if kind(raw) != "a number" {
		return 0, fmt.Errorf("is %s, %w", describe(raw), errPixel)
	}
	f, err := strconv.ParseFloat(noCopyString(raw), 64)
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

// noCopyString views b as a string without copying it, for strconv's
// parsers, which keep nothing of their input (their errors hold a copy):
// string(b) allocated a copy of every pixel's literal, as much again as a
// body of long literals.
func noCopyString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
