package serve

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// The answer of /predict is written by hand: encoding/json's reflection
// over the struct and its ten floats was a few per cent of the server's CPU
// under load. The bytes are exactly those Echo's encoder writes for the
// same prediction (TestAnswerBytesAreEncodingJSONs checks it), newline
// included, so no client can tell.

// writePrediction answers 200 with p. A request asking for ?pretty (or any
// query) gets Echo's own encoder, which indents on request, and so does a
// prediction holding a value JSON cannot write, for encoding/json to refuse.
func writePrediction(c echo.Context, p *prediction) error {
	if c.Request().URL.RawQuery != "" || !finite(p) {
		return c.JSON(http.StatusOK, p)
	}
	b := appendPrediction(make([]byte, 0, 320), p)
	return c.JSONBlob(http.StatusOK, append(b, '\n'))
}

// appendPrediction appends p as encoding/json marshals it.
func appendPrediction(b []byte, p *prediction) []byte {
	b = append(b, `{"prediction":`...)
	b = strconv.AppendInt(b, int64(p.Prediction), 10)
	b = append(b, `,"confidence":`...)
	b = appendFloat32(b, p.Confidence)
	b = append(b, `,"probabilities":[`...)
	for i, v := range p.Probabilities {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat32(b, v)
	}
	b = append(b, `],"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"model_version":`...)
	b = appendString(b, p.ModelVersion)
	return append(b, '}')
}

// appendFloat32 writes f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form below 1e-6 and from 1e21, with the
// exponent's leading zero dropped (1e-07 becomes 1e-7). A probability is
// never infinite or NaN here: writePrediction checks with finite first.
func appendFloat32(b []byte, f float32) []byte {
	abs := float32(math.Abs(float64(f)))
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, float64(f), format, -1, 32)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// finite reports whether every float of p is a number JSON can hold.
func finite(p *prediction) bool {
	ok := !math.IsInf(float64(p.Confidence), 0) && !math.IsNaN(float64(p.Confidence))
	for _, v := range p.Probabilities {
		ok = ok && !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v))
	}
	return ok
}

// appendString writes s as a JSON string: as it is when it holds only
// characters that need no escaping (a model version always does), else
// through encoding/json, which escapes as Echo's encoder does.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
