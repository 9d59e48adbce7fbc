package serve

import "fmt"

// The deepest a body of each route nests arrays and objects: the object
// itself, the image's rows and their pixels for /predict; one more level,
// the list of images, for /predict/batch; the object alone for a label.
// The image routes check one level more, so that a body only one level too
// deep reaches the precise decoder, which names the pixel that is an array.
const (
	imageDepth = 3
	batchDepth = 4
	labelDepth = 1
)

// checkNesting refuses a body that nests arrays and objects deeper than
// limit, in one pass over its bytes and without allocating. It runs before
// any decoder that builds a tree or validates recursively: fastjson's
// validator and encoding/json into raw messages both cost time that grows
// with the square of the depth (10,000 brackets took seconds of a core),
// while no body the route takes needs more than limit. It does not check
// the rest of the grammar; the decoders after it do.
func checkNesting(body []byte, limit int) error {
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
			if depth > limit {
				return badRequest("body nests arrays and objects more than %d deep (at byte %d), want %s", limit, i, nestingShape(limit))
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// nestingShape says which body a depth limit belongs to, for the message.
func nestingShape(limit int) string {
	switch limit {
	case imageDepth:
		return "a body like " + exampleBody
	case batchDepth:
		return `a body like {"images": [image, ...]}`
	}
	return fmt.Sprintf("at most %d levels", limit)
}
