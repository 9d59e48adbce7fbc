package serve

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestAnswerBytesAreEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []float32{0, 1, 0.1, 1e-6, 9.99999e-7, 1e-7, 1.5e-45, math.SmallestNonzeroFloat32, 1e21, 9.9e20, 123456.78, 0.998, 1 / 3.0}
	versions := []string{"20261126T120937.537Z", "", `odd "v" <&> \ é` + "\t"}
	for i := range 5000 {
		p := prediction{Prediction: i % 10, ID: r.Int64(), ModelVersion: versions[i%len(versions)]}
		for k := range p.Probabilities {
			switch r.IntN(3) {
			case 0:
				p.Probabilities[k] = special[r.IntN(len(special))]
			case 1:
				p.Probabilities[k] = float32(math.Exp(-r.Float64() * 100)) // down to ~1e-44
			default:
				p.Probabilities[k] = r.Float32()
			}
		}
		p.Confidence = p.Probabilities[p.Prediction]
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPrediction(nil, &p); !bytes.Equal(got, want) {
			t.Fatalf("hand-written answer\n %s\nencoding/json\n %s", got, want)
		}
	}
}

func TestWritePredictionSendsWhatEchoWouldSend(t *testing.T) {
	p := prediction{Prediction: 7, Confidence: 0.75, ID: 42, ModelVersion: "v1"}
	p.Probabilities[7], p.Probabilities[1] = 0.75, 0.25
	e := echo.New()
	answer := func(target string, write func(echo.Context) error) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		if err := write(e.NewContext(httptest.NewRequest(http.MethodPost, target, nil), rec)); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	for _, target := range []string{"/predict", "/predict?pretty"} {
		got := answer(target, func(c echo.Context) error { return writePrediction(c, &p) })
		want := answer(target, func(c echo.Context) error { return c.JSON(http.StatusOK, &p) })
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s: sent %d %q %q, Echo sends %d %q %q", target, got.Code, got.Header().Get("Content-Type"), got.Body,
				want.Code, want.Header().Get("Content-Type"), want.Body)
		}
	}
	p.Probabilities[3] = float32(math.NaN())
	if err := writePrediction(e.NewContext(httptest.NewRequest(http.MethodPost, "/predict", nil), httptest.NewRecorder()), &p); err == nil {
		t.Error("a NaN probability was written instead of refused")
	}
}
