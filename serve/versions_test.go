package serve

import (
	"context"
	"fmt"
	"testing"

	"github.com/mnistserve/app/model"
)

// countingLoader loads fake models by version, counting the loads.
type countingLoader struct{ loads map[string]int }

func (l *countingLoader) LoadVersion(_ context.Context, version string) (Model, error) {
	if version == "gone" {
		return nil, fmt.Errorf("fake: %w", model.ErrUnknownVersion)
	}
	l.loads[version]++
	return &fakeModel{version: version}, nil
}

func TestExtraModelsHoldTheLastFewAndLoadEachOnce(t *testing.T) {
	ctx := context.Background()
	l := &countingLoader{loads: map[string]int{}}
	var x extraModels
	x.setLoader(l)
	get := func(v string) Model {
		t.Helper()
		m, err := x.get(ctx, v)
		if err != nil || m.Meta().Version != v {
			t.Fatalf("get %s: %v, %v", v, m, err)
		}
		return m
	}
	first := get("a")
	if again := get("a"); again != first || l.loads["a"] != 1 {
		t.Errorf("asking again loaded another copy (%d loads)", l.loads["a"])
	}
	get("b")
	get("c") // pushes out a, the least recently used of maxExtraModels
	if get("a"); l.loads["a"] != 2 {
		t.Errorf("a was loaded %d times, want again after being pushed out", l.loads["a"])
	}
	if _, err := x.get(ctx, "gone"); err == nil {
		t.Error("an unknown version loaded")
	}
	x.setLoader(&countingLoader{loads: map[string]int{}})
	if len(x.held) != 0 {
		t.Errorf("a new loader kept %d models of the old one", len(x.held))
	}
}
