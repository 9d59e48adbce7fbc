package store

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestProbabilitiesRoundTripThroughJSONText(t *testing.T) {
	want := Probabilities{0.1, 0.2, 0.3, 1e-7, 0, 0.999999, 1, 0.5, 0.25, 0.125}
	v, err := want.Value()
	if err != nil {
		t.Fatalf("Value: %v", err)
	}
	text, ok := v.(string)
	if !ok || !strings.HasPrefix(text, "[0.1,0.2,0.3,") {
		t.Fatalf("Value() = %#v, want a JSON array as text", v)
	}
	for _, src := range []any{text, []byte(text)} {
		var got Probabilities
		if err := got.Scan(src); err != nil {
			t.Fatalf("Scan(%T): %v", src, err)
		}
		if got != want {
			t.Errorf("Scan(%T) = %v, want %v", src, got, want)
		}
	}
}

func TestProbabilitiesScanRefusesBadText(t *testing.T) {
	for _, src := range []any{"[1,2,3]", "[0,0,0,0,0,0,0,0,0,0,0]", "not json", `{"a":1}`, 42, nil} {
		var p Probabilities
		if err := p.Scan(src); err == nil {
			t.Errorf("Scan(%#v) succeeded, want an error", src)
		}
	}
}

// TestProbabilitiesTextIsEncodingJSONs checks the hand-written encoder
// against json.Marshal on values of every magnitude, the exponent forms
// included, so rows read the same whichever wrote them.
func TestProbabilitiesTextIsEncodingJSONs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []float32{0, 1, -1, 1e-6, 9.99e-7, 1e-7, 1e-38, 1e21, 9.9e20, 3.4e38, -1e-7, math.SmallestNonzeroFloat32}
	for i := range 5000 {
		var p Probabilities
		for j := range p {
			switch {
			case i < len(special):
				p[j] = special[(i+j)%len(special)]
			case j%3 == 0:
				p[j] = rng.Float32()
			default:
				p[j] = float32(math.Ldexp(rng.Float64(), rng.IntN(200)-100))
			}
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("json.Marshal(%v): %v", p, err)
		}
		got, err := p.text()
		if err != nil || got != string(want) {
			t.Fatalf("text(%v) = %s, %v; want %s", p, got, err, want)
		}
	}
}

func TestProbabilitiesTextRefusesWhatJSONCannotHold(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		p := Probabilities{0.5, bad}
		if _, err := p.Value(); err == nil || !strings.Contains(err.Error(), "probability 1") {
			t.Errorf("Value with %v = %v, want an error naming probability 1", bad, err)
		}
	}
}
