package serve

import (
	"github.com/valyala/fastjson"
)

// The fast path: a well-formed body from an ordinary client is decoded with
// fastjson, about five times faster than encoding/json into raw messages
// and without an allocation per pixel. It accepts only the plainest form
// of a good body (pixels written as integers 0..255 without sign, fraction,
// exponent or leading zero) and reports ok == false for anything else; the
// caller then runs the precise decoder in pixels.go, which decides, and
// names the position and value of what is wrong. So the fast path can never
// accept a body the precise decoder would refuse, nor change a message.
// The plainest body of all (the one key and nothing else) is read by the
// scanner in scan.go before fastjson is tried.

var fastParsers fastjson.ParserPool

// fastImage decodes {"image": <image>}; ok is false when the body is not the
// plain good form.
func fastImage(body []byte) (img []byte, ok bool) {
	if img, ok := scanImage(body); ok {
		return img, true
	}
	p := fastParsers.Get()
	defer fastParsers.Put(p)
	v, ok := fastField(p, body, "image")
	if !ok {
		return nil, false
	}
	return fastPixels(v)
}

// fastImages decodes {"images": [<image>, ...]} with 1..maxBatch images; ok
// is false when the body is not the plain good form.
func fastImages(body []byte) (imgs [][]byte, ok bool) {
	if imgs, ok := scanImages(body); ok {
		return imgs, true
	}
	p := fastParsers.Get()
	defer fastParsers.Put(p)
	v, ok := fastField(p, body, "images")
	if !ok || v.Type() != fastjson.TypeArray {
		return nil, false
	}
	elems, _ := v.Array()
	if len(elems) == 0 || len(elems) > maxBatch {
		return nil, false
	}
	imgs = make([][]byte, len(elems))
	for i, e := range elems {
		if imgs[i], ok = fastPixels(e); !ok {
			return nil, false
		}
	}
	return imgs, true
}

// fastField parses body, which must be a valid JSON object holding name
// exactly once, and returns that field's value. Validation runs first
// because fastjson's parser is more lenient than the JSON grammar.
func fastField(p *fastjson.Parser, body []byte, name string) (*fastjson.Value, bool) {
	if fastjson.ValidateBytes(body) != nil {
		return nil, false
	}
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, false
	}
	obj, _ := v.Object()
	seen := 0
	obj.Visit(func(key []byte, _ *fastjson.Value) {
		if string(key) == name {
			seen++
		}
	})
	// encoding/json keeps the last of repeated keys, fastjson the first:
	// leave that rare case to the precise decoder.
	if seen != 1 {
		return nil, false
	}
	return obj.Get(name), true
}

// fastPixels reads 28 rows of 28 pixels or 784 pixels.
func fastPixels(v *fastjson.Value) ([]byte, bool) {
	if v.Type() != fastjson.TypeArray {
		return nil, false
	}
	elems, _ := v.Array()
	img := make([]byte, 0, pixels)
	scratch := make([]byte, 0, 32) // one buffer for every pixel's literal
	switch len(elems) {
	case pixels:
		for _, e := range elems {
			p, ok := fastPixel(e, scratch)
			if !ok {
				return nil, false
			}
			img = append(img, p)
		}
	case side:
		for _, row := range elems {
			if row.Type() != fastjson.TypeArray {
				return nil, false
			}
			vals, _ := row.Array()
			if len(vals) != side {
				return nil, false
			}
			for _, e := range vals {
				p, ok := fastPixel(e, scratch)
				if !ok {
					return nil, false
				}
				img = append(img, p)
			}
		}
	default:
		return nil, false
	}
	return img, true
}

// fastPixel reads a number written as a plain integer 0..255; scratch
// holds its literal.
func fastPixel(v *fastjson.Value, scratch []byte) (byte, bool) {
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	lit := v.MarshalTo(scratch[:0]) // a number marshals as written
	if len(lit) == 0 || len(lit) > 3 || (lit[0] == '0' && len(lit) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 255 {
		return 0, false
	}
	return byte(n), true
}
