package kernels

import (
	"math"
	"testing"
)

// Guard values around every output slice, gonum's guardVector idea: a
// kernel that writes one value before or after its slice (through a
// reslice, an off-by-one edge tile or a vector store past the end) changes
// a guard, and check says where.

// guardVal is a value no kernel computes from the tests' inputs: a NaN
// with a payload, compared by its bits.
var guardVal = math.Float32frombits(0x7fc0dead)

// guardLen is how many guards lie on each side; 37 is a multiple of no
// vector width or panel size, so the slice starts at an odd offset.
const guardLen = 37

// guardedSlice is a slice with guards on both sides in one array.
type guardedSlice struct {
	back []float32
	n    int
}

// newGuarded returns n values copied from init (zeros when init is nil)
// between guards.
func newGuarded(n int, init []float32) guardedSlice {
	g := guardedSlice{back: make([]float32, guardLen+n+guardLen), n: n}
	for i := range g.back {
		g.back[i] = guardVal
	}
	s := g.s()
	clear(s)
	copy(s, init)
	return g
}

// s is the slice the kernel gets. Its capacity runs on into the trailing
// guards, so a write past its length lands on one.
func (g guardedSlice) s() []float32 { return g.back[guardLen : guardLen+g.n] }

// check fails tb when a guard changed.
func (g guardedSlice) check(tb testing.TB, what string) {
	tb.Helper()
	for i, v := range g.back {
		if i >= guardLen && i < guardLen+g.n {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(guardVal) {
			tb.Fatalf("%s: guard %+d from the start of the slice (length %d) changed to %v", what, i-guardLen, g.n, v)
		}
	}
}

func TestGuardsCatchAWritePastTheEnd(t *testing.T) {
	// The helper itself: a write one past the length, through the
	// capacity, must be caught.
	g := newGuarded(5, []float32{1, 2, 3, 4, 5})
	s := g.s()
	s[:cap(s)][5] = 0
	ft := &fakeTB{}
	g.check(ft, "probe")
	if !ft.failed {
		t.Fatal("a write past the end went unnoticed")
	}
}

// fakeTB records a Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
