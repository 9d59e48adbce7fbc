package oip

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unsafe"
)

// Pixels are stored as bytes, as /predict stores them: FP32 values in
// 0..1 are scaled to 0..255 and rounded, UINT8 values taken as they are.

// fp32Pixel turns an FP32 value into a pixel, or reports false when it is
// outside 0..1 (NaN included).
func fp32Pixel(v float64) (byte, bool) {
	if !(v >= 0 && v <= 1) {
		return 0, false
	}
	return byte(math.Round(v * 255)), true
}

// decodeRaw reads little-endian binary data into px.
func decodeRaw(raw []byte, datatype string, px []byte, at string) error {
	size := elemSize(datatype)
	if len(raw) != len(px)*size {
		return invalid("%s has %d bytes of binary data, want %d (%d values of %s)", at, len(raw), len(px)*size, len(px), datatype)
	}
	if datatype == "UINT8" {
		copy(px, raw)
		return nil
	}
	for i := range px {
		v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		p, ok := fp32Pixel(float64(v))
		if !ok {
			return invalid("%s binary value %d is %v, want FP32 in 0..1", at, i, v)
		}
		px[i] = p
	}
	return nil
}

// decodeFloats reads gRPC fp32_contents into px.
func decodeFloats(vs []float32, px []byte, at string) error {
	if len(vs) != len(px) {
		return countError(at, len(vs), len(px))
	}
	for i, v := range vs {
		p, ok := fp32Pixel(float64(v))
		if !ok {
			return invalid("%s[%d] is %v, want FP32 in 0..1", at, i, v)
		}
		px[i] = p
	}
	return nil
}

// decodeUints reads gRPC uint_contents into px.
func decodeUints(vs []uint32, px []byte, at string) error {
	if len(vs) != len(px) {
		return countError(at, len(vs), len(px))
	}
	for i, v := range vs {
		if v > 255 {
			return invalid("%s[%d] is %d, want UINT8 in 0..255", at, i, v)
		}
		px[i] = byte(v)
	}
	return nil
}

// decodeJSON reads a JSON data array, flat or nested to any depth the
// body's nesting limit allows, into px in row-major order. The array is
// valid JSON already (the transport decoded the body), so it only walks
// the values: numbers go in, anything else is refused by its place.
func decodeJSON(data []byte, datatype string, px []byte, at string) error {
	if len(data) == 0 {
		return invalid("%s is empty, want an array of numbers", at)
	}
	n := 0
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '-' || (c >= '0' && c <= '9'):
		default:
			if n == 0 && c != '"' && c != 't' && c != 'f' && c != 'n' && c != '{' {
				return invalid("%s is not an array of numbers", at)
			}
			return invalid("%s[%d] is %s, want a number", at, n, jsonKind(c))
		}
		j := i + 1
		for j < len(data) && isNumberByte(data[j]) {
			j++
		}
		if n >= len(px) {
			return invalid("%s has more than %d values, want %d (the shape's N x 784)", at, len(px), len(px))
		}
		p, err := jsonPixel(data[i:j], datatype)
		if err != nil {
			return invalid("%s[%d] is %s, want %s", at, n, shorten(data[i:j]), err.Error())
		}
		px[n] = p
		n++
		i = j
	}
	if data[0] != '[' {
		return invalid("%s is %s, want an array of numbers", at, jsonKind(data[0]))
	}
	if n != len(px) {
		return countError(at, n, len(px))
	}
	return nil
}

// Pixel reads one number literal of an input's JSON data as a pixel of
// datatype (FP32 or UINT8), as the JSON data decoder does, for a
// transport that reads the data itself (Input.Pixels); ok is false for a
// value the decoder refuses.
func Pixel(lit []byte, datatype string) (px byte, ok bool) {
	p, err := jsonPixel(lit, datatype)
	return p, err == nil
}

// jsonPixel turns one number literal into a pixel.
func jsonPixel(lit []byte, datatype string) (byte, error) {
	v, ok := plainNumber(lit)
	if !ok {
		// strconv keeps nothing of its input (its errors hold a copy), so
		// the literal is viewed in place: string(lit) copied every
		// literal, as much again as a body of long literals.
		var err error
		v, err = strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, errText("a number")
		}
		// A number past float64 (1e400) is ±Inf: out of range below.
	}
	if datatype == "UINT8" {
		if v != math.Trunc(v) || v < 0 || v > 255 {
			return 0, errText("an integer in 0..255 (UINT8)")
		}
		return byte(v), nil
	}
	p, ok := fp32Pixel(v)
	if !ok {
		return 0, errText("a value in 0..1 (FP32)")
	}
	return p, nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// plainNumber reads the literals pixels are usually written as, digits
// with an optional fraction (7, 0.5, 0.3333333432674408), to the float64
// that strconv.ParseFloat returns, in a fraction of its time; ok is false
// for any other literal. It is exact for the same reason as strconv's own
// fast path: the digits as an integer below 2^53 and a power of ten up to
// 1e22 are both exact float64s, and one division rounds correctly.
func plainNumber(lit []byte) (v float64, ok bool) {
	var m uint64
	digits, frac := 0, -1 // frac counts the digits after the point
	for _, c := range lit {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default: // a sign or an exponent
			return 0, false
		}
	}
	switch {
	case digits == 0 || digits > 19 || m >= 1<<53 || frac == 0:
		return 0, false
	case frac < 0:
		return float64(m), true
	}
	return float64(m) / pow10[frac], true // frac <= 19
}

// errText is a bare message jsonPixel's caller puts in context.
type errText string

func (e errText) Error() string { return string(e) }

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// jsonKind names the JSON value starting with c.
func jsonKind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "a number"
}

// shorten cuts a literal for a message: a number of a thousand digits is
// named by its start.
func shorten(lit []byte) string {
	if len(lit) > 24 {
		return string(lit[:20]) + "..."
	}
	return string(lit)
}
