package serve

import (
	"bytes"
	"strings"
	"testing"
)

func TestScannerTakesOnlyThePlainBodyAndReadsItAsThePreciseDecoderDoes(t *testing.T) {
	img := digitImage(4)
	plainRows := string(originalBody(t))
	plainFlat := string(mustJSON(t, map[string]any{"image": flat(img)}))
	spaced := strings.NewReplacer(",", " ,\n\t", "[", "[ ", "]", "\r ]", ":", " : ").Replace(plainRows)
	for _, tc := range []struct {
		name string
		body string
		take bool // the scanner must take it
	}{
		{"28 rows of 28 integers", plainRows, true},
		{"784 integers", plainFlat, true},
		{"JSON whitespace everywhere", " \n" + spaced + "\t\r\n", true},
		{"extra fields beside the image", `{"client":"x","image":` + string(mustJSON(t, flat(img))) + `}`, false},
		{"a pixel written 7.0", strings.Replace(plainFlat, "[", "[7.0,", 1), false},
		{"a pixel written 7e0", strings.Replace(plainFlat, "[", "[7e0,", 1), false},
		{"a leading zero", strings.Replace(plainFlat, "[", "[07,", 1), false},
		{"a pixel over 255", strings.Replace(plainFlat, "[", "[256,", 1), false},
		{"a four-digit pixel", strings.Replace(plainFlat, "[", "[1000,", 1), false},
		{"a negative pixel", strings.Replace(plainFlat, "[", "[-1,", 1), false},
		{"783 pixels", string(mustJSON(t, map[string]any{"image": flat(img)[1:]})), false},
		{"785 pixels", strings.Replace(plainFlat, "[", "[0,", 1), false},
		{"a row of 27", string(mustJSON(t, map[string]any{"image": append([][]int{rows(img)[0][1:]}, rows(img)[1:]...)})), false},
		{"29 rows", strings.Replace(plainRows, "[[", "[["+strings.Repeat("0,", 27)+"0],[", 1), false},
		{"a trailing comma", strings.Replace(plainFlat, "]", ",]", 1), false},
		{"text after the object", plainFlat + "x", false},
		{"a second object", plainFlat + plainFlat, false},
		{"a NUL after the object", plainFlat + "\x00", false},
		{"the key escaped", strings.Replace(plainFlat, `"image"`, `"\u0069mage"`, 1), false},
		{"no closing brace", strings.TrimSuffix(plainFlat, "}"), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanImage([]byte(tc.body))
			if ok != tc.take {
				t.Fatalf("scanner ok = %v, want %v", ok, tc.take)
			}
			if !ok {
				return
			}
			want, err := preciseImage([]byte(tc.body))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("scanner took a body the precise decoder answers %v / differently", err)
			}
			if !bytes.Equal(got, img) {
				t.Errorf("scanner read other pixels than were sent")
			}
		})
	}
}

func TestScannerReadsBatchesAsThePreciseDecoderDoes(t *testing.T) {
	body := mustJSON(t, map[string]any{"images": []any{rows(digitImage(1)), flat(digitImage(2)), rows(digitImage(3))}})
	got, ok := scanImages(body)
	want, err := preciseImages(body)
	if !ok || err != nil || len(got) != 3 {
		t.Fatalf("scanner %d images ok=%v, precise %v", len(got), ok, err)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("image %d differs from the precise decoder's", i)
		}
	}
	one := string(mustJSON(t, flat(digitImage(5))))
	tooMany := `{"images":[` + strings.TrimSuffix(strings.Repeat(one+",", maxBatch+1), ",") + `]}`
	full := `{"images":[` + strings.TrimSuffix(strings.Repeat(one+",", maxBatch), ",") + `]}`
	if imgs, ok := scanImages([]byte(full)); !ok || len(imgs) != maxBatch {
		t.Errorf("scanner refused %d images (ok=%v, %d read)", maxBatch, ok, len(imgs))
	}
	for _, bad := range []string{`{"images":[]}`, `{"images":[[1]]}`, `{"images":{}}`, tooMany, `{"images":[` + one + `,]}`} {
		if _, ok := scanImages([]byte(bad)); ok {
			t.Errorf("scanner took %.60s", bad)
		}
	}
}

// FuzzScannerNeverAcceptsWhatThePreciseDecoderRefuses checks, on any body,
// that a body the scanner takes decodes to the same image on the slow path.
func FuzzScannerNeverAcceptsWhatThePreciseDecoderRefuses(f *testing.F) {
	f.Add(originalBody(f))
	f.Add(mustJSON(f, map[string]any{"image": flat(digitImage(9))}))
	f.Add([]byte(`{"image":[[0]],"image":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanImage(body)
		if !ok {
			return
		}
		want, err := preciseImage(body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("scanner took %q; precise decoder: %v", body, err)
		}
	})
}

// BenchmarkScanOriginalBody measures the scanner on the original clients'
// body (2.6 KB, 784 ints); BenchmarkDecodeOriginalBody has the others.
func BenchmarkScanOriginalBody(b *testing.B) {
	body := originalBody(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, ok := scanImage(body); !ok {
			b.Fatal("scanner refused the original body")
		}
	}
}

// originalBody is the body the original clients send: 28 rows of 28 ints.
func originalBody(tb testing.TB) []byte {
	tb.Helper()
	return mustJSON(tb, map[string]any{"image": rows(digitImage(4))})
}

// BenchmarkDecodeOriginalBody measures the precise decoder, which takes
// every body the scanner does not, on the original clients' body.
func BenchmarkDecodeOriginalBody(b *testing.B) {
	body := originalBody(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := preciseImage(body); err != nil {
			b.Fatal(err)
		}
	}
}
