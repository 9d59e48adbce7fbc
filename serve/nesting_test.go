package serve

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// hostileBodies are 1 MiB bodies shaped to make a decoder work hard: deep
// nesting, balanced or not, and wide arrays and objects within the depth a
// route allows.
func hostileBodies() map[string]string {
	const size = 1 << 20
	fill := func(prefix, unit, suffix string) string {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return prefix + strings.Repeat(unit, n) + suffix
	}
	half := size / 2
	return map[string]string{
		"a megabyte of opening brackets":             fill(`{"image":`, "[", ""),
		"balanced nesting half a million deep":       `{"image":` + strings.Repeat("[", half/2-8) + strings.Repeat("]", half/2-8) + `}`,
		"nested objects":                             fill(`{"image":`, `{"a":`, ""),
		"a flat image of half a million pixels":      fill(`{"image":[`, "1,", "1]}"),
		"a row list of empty rows":                   fill(`{"image":[`, "[],", "[]]}"),
		"a batch of empty images":                    fill(`{"images":[`, "[[]],", "[[]]]}"),
		"a batch of a thousand flat images":          fill(`{"images":[`, "["+strings.Repeat("7,", 783)+"7],", "[1]]}"),
		"many keys beside the image":                 fill(`{`, `"k":[0],`, `"image":[1]}`),
		"one long number":                            fill(`{"image":[`, "1", "]}"),
		"one long string":                            fill(`{"image":"`, "x", `"}`),
		"brackets inside a string are not nesting":   fill(`{"note":"`, "[", `","image":[1]}`),
		"escaped quotes do not end the string":       fill(`{"note":"`, `\"[`, `","image":[1]}`),
		"a megabyte of opening brackets, as a batch": fill(`{"images":`, "[", ""),
	}
}

func TestHostileBodiesAreRefusedWith400InBoundedMemory(t *testing.T) {
	// 20 MB is the bound for a 1 MiB body; allocation is counted, not
	// time, since time on a shared machine is noise (BenchmarkHostileBodies
	// measures it).
	const budget = 20 << 20
	for name, body := range hostileBodies() {
		t.Run(name, func(t *testing.T) {
			decode := imageFromJSON
			if strings.HasPrefix(body, `{"images"`) {
				decode = func(b []byte) ([]byte, error) { _, err := imagesFromJSON(b); return nil, err }
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decode([]byte(body))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errInvalid) {
				t.Fatalf("got %v, want a decoder's error (a 400)", err)
			}
			if used := after.TotalAlloc - before.TotalAlloc; used > budget {
				t.Errorf("decoding allocated %d MB, want at most %d", used>>20, budget>>20)
			}
		})
	}
}

func TestNestingDeeperThanTheShapeNeedsIsRefusedAndNamed(t *testing.T) {
	img := string(mustJSON(t, rows(digitImage(3))))
	for _, tc := range []struct {
		name, body string
		shape      int
		ok         bool
	}{
		{"an image of rows nests 3 deep", `{"image":` + img + `}`, imageDepth, true},
		{"one level too deep is left to the decoder to name", `{"image":[` + img + `]}`, imageDepth, true},
		{"two levels too deep", `{"image":[[` + img + `]]}`, imageDepth, false},
		{"an object beside the image nesting too deep", `{"m":{"a":[[[1]]]},"image":` + img + `}`, imageDepth, false},
		{"a batch of rows nests 4 deep", `{"images":[` + img + `]}`, batchDepth, true},
		{"a batch nested twice more", `{"images":[[[` + img + `]]]}`, batchDepth, false},
		{"brackets in strings do not count", `{"n":"[[[[[[","image":` + img + `}`, imageDepth, true},
		{"an escaped quote keeps the string open", `{"n":"\"[[[[","image":` + img + `}`, imageDepth, true},
		{"a label is one object", `{"label":[[1]]}`, labelDepth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNesting([]byte(tc.body), tc.shape)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("which nests %d deep", tc.shape)) {
				t.Fatalf("got %v, want a 400 that says the body nests too deep", err)
			}
		})
	}
}

func BenchmarkHostileBodies(b *testing.B) {
	for name, body := range hostileBodies() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			raw := []byte(body)
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				_, _ = imageFromJSON(raw)
				_, _ = imagesFromJSON(raw)
			}
		})
	}
}

// FuzzDecodersNeverPanicAndBoundTheirNesting feeds both JSON decoders
// bodies built from a fuzzed pattern repeated to great depth or width: each
// answer is an image of 784 pixels or a 400, and a body nested deeper than
// its route allows is always refused.
func FuzzDecodersNeverPanicAndBoundTheirNesting(f *testing.F) {
	for _, seed := range []struct {
		prefix, unit string
		times        uint16
	}{
		{`{"image":`, "[", 10000},
		{`{"images":`, "[", 5000},
		{`{"image":[`, "[],", 3000},
		{`{"image":[`, "1,", 5000},
		{`{"image":`, `{"a":`, 2000},
		{`{"images":[`, "[[1]],", 500},
		{`{"n":"`, `\"[`, 1000},
	} {
		f.Add(seed.prefix, seed.unit, seed.times)
	}
	f.Fuzz(func(t *testing.T, prefix, unit string, times uint16) {
		if len(unit)*int(times) > 1<<20 {
			return
		}
		body := []byte(prefix + strings.Repeat(unit, int(times)))
		for depth, decode := range map[int]func([]byte) (int, error){
			imageDepth: func(b []byte) (int, error) { img, err := imageFromJSON(b); return len(img), err },
			batchDepth: func(b []byte) (int, error) {
				imgs, err := imagesFromJSON(b)
				if len(imgs) > 0 {
					return len(imgs[0]), err
				}
				return pixels, err
			},
		} {
			n, err := decode(body)
			switch {
			case err == nil && n != pixels:
				t.Fatalf("decoded an image of %d pixels", n)
			case err != nil && !errors.Is(err, errInvalid):
				t.Fatalf("got %v, want a decoder's error (a 400)", err)
			case err == nil && checkNesting(body, depth-1) != nil:
				t.Fatalf("took a body nested deeper than %d", depth) // a pixel is never an array
			}
		}
	})
}
