package serve

import "testing"

func TestMatchRoute(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, target, label string
		ok                           bool
	}{
		{"a plain path matches itself", "POST /predict", "POST /predict", "/predict", true},
		{"another method does not match", "POST /predict", "GET /predict", "", false},
		{"a longer path does not match", "POST /predict", "POST /predict/batch", "", false},
		{"a parameter matches one segment", "POST /v2/models/:model/infer", "POST /v2/models/mnist/infer", "/v2/models/:model/infer", true},
		{"a parameter does not match an empty segment", "POST /v2/models/:model/infer", "POST /v2/models//infer", "", false},
		{"a parameter does not match two segments", "POST /v2/models/:model/infer", "POST /v2/models/a/b/infer", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, ok := matchRoute(tc.pattern, tc.target)
			if label != tc.label || ok != tc.ok {
				t.Errorf("matchRoute(%q, %q) = %q, %v; want %q, %v", tc.pattern, tc.target, label, ok, tc.label, tc.ok)
			}
		})
	}
}
