package kernels

import "testing"

func TestFillRowsRepeatsTheBiasOnEveryRow(t *testing.T) {
	for _, rows := range []int{0, 1, 2, 3, 7, 100} {
		bias := []float32{1, 2, 3}
		y := make([]float32, rows*3+2)
		y[len(y)-1], y[len(y)-2] = 9, 9
		FillRows(y, rows, bias)
		for r := 0; r < rows; r++ {
			for j, b := range bias {
				if y[r*3+j] != b {
					t.Fatalf("%d rows: y[%d][%d] = %v, want %v", rows, r, j, y[r*3+j], b)
				}
			}
		}
		if y[len(y)-1] != 9 || y[len(y)-2] != 9 {
			t.Fatalf("%d rows: wrote past the rows", rows)
		}
	}
}
