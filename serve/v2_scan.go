package serve

import (
	"slices"

	"github.com/mnistserve/app/oip"
)

// The plain OIP v2 inference body, all JSON, is read in one pass over its
// bytes, as /predict's plain body is (scan.go): the envelope's fields
// straight into an oip.InferRequest, and the input's data into pixels, by
// oip's rule for a value, on the same pass. encoding/json's validation and
// reflection, the walk that found the data again, the nesting check and
// strconv took most of a v2 request's CPU (BenchmarkV2InferRoute: 200-257
// us a request against /predict's 47-77, 64-66 with the scanner).
//
// The scanner takes only what it can read to exactly the request the
// general decoder (preciseV2) reads: the spec's field names as written, no
// key twice, strings of printable ASCII without escapes, one input, and
// parameters whose values are scalars. At the first byte that does not fit
// it says ok == false and the general decoder reads the body from the
// start, so every error, and every body it takes in its own way, is worded
// and read as before.

// maxDataDepth is the most arrays the scanner lets an input's data nest:
// the shape [N,1,28,28]. Deeper data is left to the general decoder, whose
// nesting check refuses it.
const maxDataDepth = 4

// scanV2 reads the plain inference body: {"inputs": [one input], "id",
// "outputs", "parameters"}, every field but inputs optional. bin is nil for
// a body of JSON alone; for the binary tensor data extension, body is the
// JSON header and bin the binary data after it, all of which the one input
// must claim (see input).
func scanV2(body, bin []byte) (*oip.InferRequest, bool) {
	s := scanner{b: body}
	req := &oip.InferRequest{}
	ok := s.fields([]string{"inputs", "id", "outputs", "parameters"}, 1, func(key string) bool {
		var ok bool
		switch key {
		case "inputs":
			req.Inputs, ok = s.inputs(bin)
		case "id":
			req.ID, ok = s.str()
		case "outputs":
			req.Outputs, ok = s.outputs()
		case "parameters":
			req.BinaryAll, ok = s.params(oip.ParamBinAll, "")
		}
		return ok
	})
	if !ok || !s.end() {
		return nil, false
	}
	return req, true
}

// inputs reads an array of exactly one input, its data in the JSON or,
// with bin not nil, all of bin.
func (s *scanner) inputs(bin []byte) ([]oip.Input, bool) {
	if !s.lit("[") {
		return nil, false
	}
	in, ok := s.input(bin)
	if !ok || !s.lit("]") {
		return nil, false
	}
	return []oip.Input{in}, true
}

// input reads {"name", "datatype", "shape", "data", "parameters"}. With
// bin nil (a body of JSON alone) all but parameters are required, and a
// binary_data_size makes the scanner give up: such a body cannot satisfy
// it, and the general decoder words that. With bin (the binary tensor
// data after the JSON) data must be absent and parameters give
// binary_data_size as exactly len(bin): data in the JSON as well, another
// size, or a size not written as a plain count, and the scanner gives up.
func (s *scanner) input(bin []byte) (oip.Input, bool) {
	var in oip.Input
	size := -1
	ok := s.fields([]string{"name", "datatype", "shape", "data", "parameters"}, 3, func(key string) bool {
		var ok bool
		switch key {
		case "name":
			in.Name, ok = s.str()
		case "datatype":
			in.Datatype, ok = s.str()
		case "shape":
			in.Shape, ok = s.shape()
		case "data":
			if bin != nil {
				return false
			}
			in.JSON, in.Pixels, ok = s.data(in.Datatype)
		case "parameters":
			if bin != nil {
				size, ok = s.sizeParams()
			} else {
				_, ok = s.params("", oip.ParamBinSize)
			}
		}
		return ok
	})
	switch {
	case !ok:
		return in, false
	case bin == nil:
		in.HasData = in.JSON != nil
		return in, in.HasData
	case size != len(bin):
		return in, false
	}
	in.Raw, in.HasData = bin[:size:size], true
	return in, true
}

// sizeParams reads an input's parameters object whose values are scalars
// and returns its binary_data_size, -1 when it has none. The size must be
// an integer without a sign, given once, else the scanner gives up.
func (s *scanner) sizeParams() (int, bool) {
	size := -1
	ok := s.object(func(key string) bool {
		if key != oip.ParamBinSize {
			return s.scalar()
		}
		if size >= 0 || s.peek() == '-' {
			return false
		}
		n, ok := s.integer()
		size = int(n)
		return ok
	})
	return size, ok
}

// outputs reads an array of outputs, {"name", "parameters"}; an empty one
// asks for none, as the general decoder reads it.
func (s *scanner) outputs() ([]oip.Output, bool) {
	if !s.lit("[") {
		return nil, false
	}
	var outs []oip.Output
	if s.peek() == ']' {
		s.i++
		return nil, true
	}
	for {
		var o oip.Output
		ok := s.fields([]string{"name", "parameters"}, 1, func(key string) bool {
			var ok bool
			switch key {
			case "name":
				o.Name, ok = s.str()
			case "parameters":
				o.Binary, ok = s.params(oip.ParamBinary, "")
			}
			return ok
		})
		if !ok {
			return nil, false
		}
		outs = append(outs, o)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return outs, true
		default:
			return nil, false
		}
	}
}

// fields reads an object whose keys are among names, none twice, and the
// first required of them all present, calling read with each key when the
// scanner stands on its value; read returns false to give up.
func (s *scanner) fields(names []string, required int, read func(key string) bool) bool {
	var found uint
	ok := s.object(func(key string) bool {
		i := slices.Index(names, key)
		if i < 0 || found&(1<<i) != 0 {
			return false
		}
		found |= 1 << i
		return read(key)
	})
	all := uint(1)<<required - 1
	return ok && found&all == all
}

// object reads a JSON object whose keys are plain strings, calling member
// with each key when the scanner stands on its value; member reads the
// value and returns false to give up.
func (s *scanner) object(member func(key string) bool) bool {
	if !s.lit("{") {
		return false
	}
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.strBytes()
		if !ok || !s.lit(":") || !member(noCopyString(key)) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// params reads a parameters object whose values are scalars. The boolean
// parameter flag (none when "") is returned, at most once and true or
// false; a parameter named refuse makes the scanner give up.
func (s *scanner) params(flag, refuse string) (bool, bool) {
	var v, seen bool
	ok := s.object(func(key string) bool {
		switch {
		case refuse != "" && key == refuse:
			return false
		case flag != "" && key == flag:
			if seen {
				return false
			}
			seen = true
			switch {
			case s.lit("true"):
				v = true
				return true
			case s.lit("false"):
				return true
			}
			return false
		}
		return s.scalar()
	})
	return v, ok
}

// scalar moves past a plain string, a number, true, false or null.
func (s *scanner) scalar() bool {
	switch s.peek() {
	case '"':
		_, ok := s.strBytes()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	}
	end := numberEnd(s.b, s.i)
	if end == s.i {
		return false
	}
	s.i = end
	return true
}

// str reads a plain string: printable ASCII, no escapes, so that its bytes
// are its value.
func (s *scanner) str() (string, bool) {
	b, ok := s.strBytes()
	if !ok {
		return "", false
	}
	return string(b), true
}

// strBytes is str without the copy.
func (s *scanner) strBytes() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return s.b[start:i], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// integer reads a JSON number as encoding/json reads it into an int64:
// written without fraction or exponent, at most 18 digits.
func (s *scanner) integer() (int64, bool) {
	s.ws()
	start := s.i
	end := numberEnd(s.b, start)
	digits := s.b[start:end]
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var d int64
	for _, c := range digits {
		if c < '0' || c > '9' { // a fraction or an exponent
			return 0, false
		}
		d = d*10 + int64(c-'0')
	}
	if neg {
		d = -d
	}
	s.i = end
	return d, true
}

// shape reads an array of integers (see integer).
func (s *scanner) shape() ([]int64, bool) {
	if !s.lit("[") {
		return nil, false
	}
	dims := []int64{} // [] is an empty shape, not a missing one
	if s.peek() == ']' {
		s.i++
		return dims, true
	}
	for {
		d, ok := s.integer()
		if !ok {
			return nil, false
		}
		dims = append(dims, d)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return dims, true
		default:
			return nil, false
		}
	}
}

// data moves past an input's data, which must be a JSON array of numbers
// and arrays nested at most maxDataDepth deep, and returns it as a slice
// of the body. When the input's datatype is known already (it usually
// comes first), it reads the values into pixels on the way, by oip's rule
// (oip.Pixel), and gives up at one that oip refuses; else it leaves them
// to oip.
func (s *scanner) data(datatype string) (raw, px []byte, ok bool) {
	s.ws()
	b, i, start := s.b, s.i, s.i
	if i == len(b) || b[i] != '[' {
		return nil, nil, false
	}
	read, uint8 := datatype == "UINT8" || datatype == "FP32", datatype == "UINT8"
	if read {
		px = make([]byte, 0, pixels)
	}
	depth := 0
	for {
		// A value: an array, or a number inside one.
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		switch {
		case i < len(b) && b[i] == '[':
			if depth++; depth > maxDataDepth {
				return nil, nil, false
			}
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i == len(b) || b[i] != ']' {
				continue // to the array's first value
			}
			i++ // an empty array is a whole value
			depth--
		default:
			if uint8 {
				if p, end, ok := plainByte(b, i); ok {
					px = append(px, p)
					i = end
					break
				}
			}
			end := numberEnd(b, i)
			if end == i {
				return nil, nil, false
			}
			if read {
				p, ok := oip.Pixel(b[i:end], datatype)
				if !ok {
					return nil, nil, false
				}
				px = append(px, p)
			}
			i = end
		}
		// After a value: closing brackets, then a comma or the end.
		for {
			if depth == 0 {
				s.i = i
				return b[start:i], px, true
			}
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i == len(b) {
				return nil, nil, false
			}
			if b[i] == ']' {
				i++
				depth--
				continue
			}
			if b[i] != ',' {
				return nil, nil, false
			}
			i++
			break
		}
	}
}

// plainByte reads the integer 0..255 written plainly at b[i] (1 to 3
// digits, no leading zero, no fraction or exponent), the common UINT8
// value, without oip.Pixel's general reading; ok is false for any other
// literal, which the caller reads the general way.
func plainByte(b []byte, i int) (p byte, end int, ok bool) {
	n, start := 0, i
	for i < len(b) && i-start < 4 && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	switch digits := i - start; {
	case digits == 0 || digits > 3 || n > 255:
		return 0, 0, false
	case digits > 1 && b[start] == '0':
		return 0, 0, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, 0, false
	}
	return byte(n), i, true
}

// numberEnd returns the end of the JSON number starting at b[i], or i when
// none starts there: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b []byte, i int) int {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsEnd(b, i)
	default:
		return start
	}
	if i < len(b) && b[i] == '.' {
		j := digitsEnd(b, i+1)
		if j == i+1 {
			return start
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsEnd(b, i)
		if j == i {
			return start
		}
		i = j
	}
	return i
}

// digitsEnd returns the end of the run of digits starting at b[i].
func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
