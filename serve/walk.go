package serve

import (
	"bytes"
	"encoding/json"
)

// The precise decoder reads a body that encoding/json has validated, by
// walking its bytes: it finds the fields and elements it needs as slices of
// the body and counts the rest, building no tree and copying nothing. The
// earlier decoder unmarshalled each level into raw messages, one allocation
// per element: a megabyte of empty rows took 200 MB. Because the bytes are
// known to be valid JSON, the walker needs to tell values apart but never to
// report a syntax error.

// walker reads valid JSON from the front.
type walker struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (w *walker) ws() {
	for w.i < len(w.b) && isSpace(w.b[w.i]) {
		w.i++
	}
}

// value returns the next value as a slice of the input and moves past it.
func (w *walker) value() []byte {
	w.ws()
	start := w.i
	switch w.b[w.i] {
	case '"':
		w.str()
	case '[', '{':
		// Brackets inside strings do not count; valid JSON balances the rest.
		depth := 0
		for {
			switch w.b[w.i] {
			case '"':
				w.str()
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
			}
			w.i++
			if depth == 0 {
				break
			}
		}
	default: // a number, true, false or null: runs until a delimiter
		for w.i < len(w.b) && !isSpace(w.b[w.i]) && w.b[w.i] != ',' && w.b[w.i] != ']' && w.b[w.i] != '}' {
			w.i++
		}
	}
	return w.b[start:w.i]
}

// str moves past the string that starts at the current byte.
func (w *walker) str() {
	w.i++
	for w.b[w.i] != '"' {
		if w.b[w.i] == '\\' {
			w.i++
		}
		w.i++
	}
	w.i++
}

// elements calls f with each element of the array raw (valid JSON, starting
// with '['), in order, until f returns false.
func elements(raw []byte, f func(i int, elem []byte) bool) {
	w := walker{b: raw, i: 1}
	w.ws()
	if w.b[w.i] == ']' {
		return
	}
	for n := 0; ; n++ {
		if !f(n, w.value()) {
			return
		}
		w.ws()
		if w.b[w.i] == ']' {
			return
		}
		w.i++ // the comma
	}
}

// countElements returns how many elements the array raw holds.
func countElements(raw []byte) int {
	n := 0
	elements(raw, func(int, []byte) bool { n++; return true })
	return n
}

// member returns the value of the field name in the object raw (valid
// JSON, starting with '{'). Like encoding/json, it keeps the last of
// repeated keys and compares keys after unescaping them.
func member(raw []byte, name string) (value []byte, found bool) {
	eachMember(raw, func(key, v []byte) bool {
		if keyIs(key, name) {
			value, found = v, true
		}
		return true
	})
	return value, found
}

// eachMember calls f with each key (quoted, as written) and value of the
// object raw (valid JSON, starting with '{'), in order, until f returns
// false.
func eachMember(raw []byte, f func(key, value []byte) bool) {
	w := walker{b: raw, i: 1}
	w.ws()
	if w.b[w.i] == '}' {
		return
	}
	for {
		key := w.value()
		w.ws()
		w.i++ // the colon
		if !f(key, w.value()) {
			return
		}
		w.ws()
		if w.b[w.i] == '}' {
			return
		}
		w.i++ // the comma
	}
}

// keyText is the quoted key unescaped.
func keyText(quoted []byte) string {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(quoted, &s) // valid JSON: no error
	return s
}

// keyIs reports whether the quoted key means name.
func keyIs(quoted []byte, name string) bool {
	inner := quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' { // rare: unescape to compare
			var s string
			return json.Unmarshal(quoted, &s) == nil && s == name
		}
	}
	return string(inner) == name
}
