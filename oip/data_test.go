package oip

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestPlainNumberReadsWhatParseFloatReads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 19))
	var lits []string
	for i := range 300 {
		lits = append(lits, strconv.Itoa(i))
	}
	for range 200_000 {
		f := r.Float64()
		lits = append(lits,
			strconv.FormatFloat(f, 'f', -1, 64),                           // shortest float64: up to 17 digits
			strconv.FormatFloat(float64(float32(f)), 'f', -1, 64),         // a float32 written as a float64, as Python writes it
			strconv.FormatFloat(f, 'f', -1, 32),                           // shortest float32
			strconv.FormatFloat(f, 'f', r.IntN(20), 64),                   // fixed digits, trailing zeros too
			strconv.FormatFloat(math.Round(f*255)/255, 'f', -1, 64),       // an exact pixel level
			strconv.FormatFloat(float64(r.IntN(256)), 'f', r.IntN(4), 64), // 7, 7.0, 7.00
		)
	}
	lits = append(lits, "9007199254740991", "9007199254740992", "0.9007199254740993", "1e0", "-0", "-0.5", "0.5e1", "1.", ".5")
	for _, lit := range lits {
		got, ok := plainNumber([]byte(lit))
		if !ok {
			continue
		}
		want, err := strconv.ParseFloat(lit, 64)
		if err != nil || got != want {
			t.Fatalf("plainNumber(%q) = %v, strconv.ParseFloat = %v, %v", lit, got, want, err)
		}
	}
	for _, lit := range []string{"7", "0.5", "0.3333333432674408", "255.0", "1"} {
		if _, ok := plainNumber([]byte(lit)); !ok {
			t.Errorf("plainNumber(%q) left it to strconv, want it read", lit)
		}
	}
	for _, lit := range []string{"-0", "1e0", "0.5E-1", "90071992547409930", "7."} {
		if _, ok := plainNumber([]byte(lit)); ok {
			t.Errorf("plainNumber(%q) read it, want it left to strconv", lit)
		}
	}
}

func TestDecodeJSONReadsPixelsAndNamesTheBadValue(t *testing.T) {
	for _, tc := range []struct {
		name, data, datatype string
		want                 byte // pixel 0
		err                  string
	}{
		{"a UINT8 integer", "[200", "UINT8", 200, ""},
		{"a UINT8 integer written with a fraction", "[200.0", "UINT8", 200, ""},
		{"a UINT8 integer written with an exponent", "[2e2", "UINT8", 200, ""},
		{"an FP32 half", "[0.5", "FP32", 128, ""},
		{"an FP32 one", "[1", "FP32", 255, ""},
		{"an FP32 level written by a float32", "[0.3333333432674408", "FP32", 85, ""},
		{"a UINT8 fraction", "[0.5", "UINT8", 0, "in.data[0] is 0.5, want an integer in 0..255 (UINT8)"},
		{"a UINT8 over 255", "[256", "UINT8", 0, "in.data[0] is 256, want an integer in 0..255 (UINT8)"},
		{"an FP32 over 1", "[1.0000001", "FP32", 0, "in.data[0] is 1.0000001, want a value in 0..1 (FP32)"},
		{"an FP32 below 0", "[-0.5", "FP32", 0, "in.data[0] is -0.5, want a value in 0..1 (FP32)"},
		{"a number past float64 as UINT8", "[1e400", "UINT8", 0, "in.data[0] is 1e400, want an integer in 0..255 (UINT8)"},
		{"a number past float64 as FP32", "[-1e400", "FP32", 0, "in.data[0] is -1e400, want a value in 0..1 (FP32)"},
		{"a number too small for float64 is 0", "[1e-400", "FP32", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			for range imageSize - 1 {
				data += ",0"
			}
			px := make([]byte, imageSize)
			err := decodeJSON([]byte(data+"]"), tc.datatype, px, "in.data")
			switch {
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Fatalf("error %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && px[0] != tc.want:
				t.Errorf("pixel %d, want %d", px[0], tc.want)
			}
		})
	}
}

// BenchmarkDecodeJSON reads one image's data, flat, as scripts/load-oip.sh
// sends it (UINT8) and as an FP32 client would.
//
//	go test -run '^$' -bench DecodeJSON -benchmem ./oip/
func BenchmarkDecodeJSON(b *testing.B) {
	for _, datatype := range []string{"UINT8", "FP32"} {
		b.Run(datatype, func(b *testing.B) {
			vals := make([]string, imageSize)
			for i := range vals {
				p := (i * 7) % 256
				if datatype == "UINT8" {
					vals[i] = strconv.Itoa(p)
				} else {
					vals[i] = strconv.FormatFloat(float64(float32(float64(p)/255)), 'f', -1, 64)
				}
			}
			data := []byte("[" + strings.Join(vals, ", ") + "]")
			px := make([]byte, imageSize)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := decodeJSON(data, datatype, px, "data"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestImagesTakeThePixelsATransportReadOnlyWhenTheyFitTheShape(t *testing.T) {
	data := "[" + strings.TrimSuffix(strings.Repeat("9,", imageSize), ",") + "]"
	read := make([]byte, imageSize)
	for i := range read {
		read[i] = 9
	}
	t.Run("pixels of the shape's count are the images", func(t *testing.T) {
		in := Input{Name: InputName, Datatype: "UINT8", Shape: []int64{1, 784}, JSON: []byte(data), Pixels: read, HasData: true}
		imgs, err := images([]Input{in})
		if err != nil || len(imgs) != 1 || &imgs[0][0] != &read[0] {
			t.Fatalf("images %d, %v: want the pixels read, not a copy", len(imgs), err)
		}
	})
	t.Run("pixels of another count leave the data to be read for the error", func(t *testing.T) {
		in := Input{Name: InputName, Datatype: "UINT8", Shape: []int64{2, 784}, JSON: []byte(data), Pixels: read, HasData: true}
		_, err := images([]Input{in})
		if err == nil || err.Error() != "inputs[0].data has 784 values, want 1568 (the shape's N x 784)" {
			t.Fatalf("error %v, want the data's count named", err)
		}
	})
}
