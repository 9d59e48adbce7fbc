package kernels

import (
	"fmt"
	"testing"
)

func TestFillRowsRepeatsTheBiasOnEveryRow(t *testing.T) {
	for _, rows := range []int{0, 1, 2, 3, 7, 100} {
		bias := []float32{1, 2, 3}
		g := newGuarded(rows*3, nil)
		y := g.s()
		FillRows(y, rows, bias)
		g.check(t, fmt.Sprintf("%d rows", rows))
		for r := 0; r < rows; r++ {
			for j, b := range bias {
				if y[r*3+j] != b {
					t.Fatalf("%d rows: y[%d][%d] = %v, want %v", rows, r, j, y[r*3+j], b)
				}
			}
		}
	}
}
