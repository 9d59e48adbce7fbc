package serve

// The fastest path: the body every ordinary client sends, {"image": [...]}
// with nothing else in it, is read in one pass over its bytes, without a
// parse tree, in a few microseconds. The scanner takes only that exact
// shape (JSON whitespace, the one key, pixels written as plain integers
// 0..255) and says ok == false at the first byte that does not fit; the
// caller then tries fastjson and, failing that, the precise decoder. What
// it takes is a valid JSON object that the precise decoder reads to the
// same pixels, so it can neither accept a bad body nor change a message.

// scanner reads a body from the front; a method that returns false has
// found a byte outside the plain form.
type scanner struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// lit consumes lit after any whitespace.
func (s *scanner) lit(lit string) bool {
	s.ws()
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// peek returns the next byte after any whitespace, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool { return s.peek() == 0 && s.i == len(s.b) }

// pixels appends count comma-separated pixels to img, then reads "]". It is
// the loop every byte of a body goes through, so it works on locals.
func (s *scanner) pixels(img []byte, count int) ([]byte, bool) {
	b, i := s.b, s.i
	for k := range count {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if k > 0 {
			if i == len(b) || b[i] != ',' {
				return nil, false
			}
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
		}
		start, n := i, 0
		for i < len(b) && i-start < 4 && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int(b[i]-'0')
			i++
		}
		digits := i - start
		switch {
		case digits == 0 || digits > 3 || n > 255:
			return nil, false
		case digits > 1 && b[start] == '0': // a leading zero is not JSON
			return nil, false
		case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
			// A fraction or exponent is left to the slower decoders.
			return nil, false
		}
		img = append(img, byte(n))
	}
	s.i = i
	return img, s.lit("]")
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// image reads one image, 28 rows of 28 pixels or 784 pixels, appending it
// to img.
func (s *scanner) image(img []byte) ([]byte, bool) {
	if !s.lit("[") {
		return nil, false
	}
	if s.peek() != '[' {
		return s.pixels(img, pixels)
	}
	for r := range side {
		if r > 0 && !s.lit(",") {
			return nil, false
		}
		var ok bool
		if !s.lit("[") {
			return nil, false
		}
		if img, ok = s.pixels(img, side); !ok {
			return nil, false
		}
	}
	return img, s.lit("]")
}

// scanImage reads the plain body {"image": <image>}.
func scanImage(body []byte) ([]byte, bool) {
	s := scanner{b: body}
	if !s.lit("{") || !s.lit(`"image"`) || !s.lit(":") {
		return nil, false
	}
	img, ok := s.image(make([]byte, 0, pixels))
	if !ok || !s.lit("}") || !s.end() {
		return nil, false
	}
	return img, true
}

// scanImages reads the plain body {"images": [<image>, ...]} with
// 1..maxBatch images.
func scanImages(body []byte) ([][]byte, bool) {
	s := scanner{b: body}
	if !s.lit("{") || !s.lit(`"images"`) || !s.lit(":") || !s.lit("[") {
		return nil, false
	}
	var imgs [][]byte
	for {
		if len(imgs) == maxBatch {
			return nil, false
		}
		img, ok := s.image(make([]byte, 0, pixels))
		if !ok {
			return nil, false
		}
		imgs = append(imgs, img)
		if s.peek() != ',' {
			break
		}
		s.i++
	}
	if !s.lit("]") || !s.lit("}") || !s.end() {
		return nil, false
	}
	return imgs, true
}
