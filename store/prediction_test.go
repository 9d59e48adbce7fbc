package store

import (
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
