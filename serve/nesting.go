package serve

import "fmt"

// The depth of arrays and objects in the body of each route: the object
// itself, the image's rows and their pixels for /predict; one more level,
// the list of images, for /predict/batch; the object alone for a label.
const (
	imageDepth = 3
	batchDepth = 4
	labelDepth = 1
)

// checkNesting refuses a body that nests arrays and objects more than one
// level deeper than shape, the depth of the route's body, in one pass over
// its bytes and without allocating. The one level of slack lets a body
// just one level too deep reach the precise decoder, which names the pixel
// that is an array. It runs before any decoder that builds a tree or
// validates recursively: fastjson's validator and encoding/json into raw
// messages both took time that grows with the square of the depth (10,000
// brackets took seconds of a core), while no body a route takes nests
// deeper than its shape. It does not check the rest of the grammar; the
// decoders after it do.
func checkNesting(body []byte, shape int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > shape+1 {
				return invalid("body nests arrays and objects %d deep at byte %d, want %s, which nests %d deep", depth, i, nestingShape(shape), shape)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// nestingShape names the body of a route's depth, for the message.
func nestingShape(shape int) string {
	switch shape {
	case imageDepth:
		return "a body like " + exampleBody
	case batchDepth:
		return `a body like {"images": [image, ...]}`
	case labelDepth:
		return `a body like {"label": 7}`
	case v2Depth:
		return `an inference request like {"inputs": [{"name": "image", ..., "data": [...]}]} whose data nests at most 4 deep (as the shape [N,1,28,28])`
	}
	return fmt.Sprintf("a body that nests at most %d deep", shape)
}
