package serve

import (
	"bytes"
	"strings"
	"testing"
)

// originalBody is the body the original clients send: 28 rows of 28 ints.
func originalBody(tb testing.TB) []byte {
	tb.Helper()
	return mustJSON(tb, map[string]any{"image": rows(digitImage(4))})
}

func TestFastPathTakesPlainGoodBodiesAndLeavesTheRestToThePreciseDecoder(t *testing.T) {
	img := digitImage(4)
	for _, tc := range []struct {
		name string
		body string
		fast bool // the fast path must take it
	}{
		{"28 rows of 28 integers", string(originalBody(t)), true},
		{"784 integers", string(mustJSON(t, map[string]any{"image": flat(img)})), true},
		{"extra fields beside the image", `{"client":"x","image":` + string(mustJSON(t, flat(img))) + `,"n":[1,2]}`, true},
		{"integers written 7.0", strings.Replace(string(mustJSON(t, map[string]any{"image": flat(img)})), "[", "[7.0,", 1), false},
		{"a leading zero", strings.Replace(string(mustJSON(t, map[string]any{"image": flat(img)})), ",", ",07,", 1), false},
		{"a pixel over 255", strings.Replace(string(mustJSON(t, map[string]any{"image": flat(img)})), "[", "[256,", 1), false},
		{"the image key twice", `{"image":[1],"image":` + string(mustJSON(t, flat(img))) + `}`, false},
		{"a raw tab inside a string", "{\"note\":\"a\tb\",\"image\":" + string(mustJSON(t, flat(img))) + "}", false},
		{"fastjson's lenient inf", `{"image":[inf]}`, false},
		{"a ragged row", `{"image":[[1,2],[3]]}`, false},
		{"not an object", `[1,2,3]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fastImage([]byte(tc.body))
			if ok != tc.fast {
				t.Fatalf("fast path ok = %v, want %v", ok, tc.fast)
			}
			want, err := preciseImage([]byte(tc.body))
			if ok && (err != nil || !bytes.Equal(got, want)) {
				t.Errorf("fast path took a body the precise decoder answers %v / differently", err)
			}
		})
	}
}

func TestFastBatchPathAgreesWithThePreciseDecoder(t *testing.T) {
	body := mustJSON(t, map[string]any{"images": []any{rows(digitImage(1)), flat(digitImage(2))}})
	got, ok := fastImages(body)
	want, err := preciseImages(body)
	if !ok || err != nil || len(got) != 2 || !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
		t.Errorf("fast %v ok=%v, precise %v", len(got), ok, err)
	}
	for _, bad := range []string{`{"images":[]}`, `{"images":[[1]]}`, `{"images":{}}`} {
		if _, ok := fastImages([]byte(bad)); ok {
			t.Errorf("fast path took %s", bad)
		}
	}
}

// FuzzFastPathNeverAcceptsWhatThePreciseDecoderRefuses checks, on any body,
// that a body the fast path takes decodes to the same image on the slow path.
func FuzzFastPathNeverAcceptsWhatThePreciseDecoderRefuses(f *testing.F) {
	f.Add(originalBody(f))
	f.Add(mustJSON(f, map[string]any{"image": flat(digitImage(9))}))
	f.Add([]byte(`{"image":[[0]],"image":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastImage(body)
		if !ok {
			return
		}
		want, err := preciseImage(body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fast path took %q; precise decoder: %v", body, err)
		}
	})
}

// BenchmarkDecodeOriginalBody compares the fast path with the precise
// decoder on the original clients' body (2.6 KB, 784 ints).
func BenchmarkDecodeOriginalBody(b *testing.B) {
	body := originalBody(b)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, ok := fastImage(body); !ok {
				b.Fatal("fast path refused the original body")
			}
		}
	})
	b.Run("precise", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := preciseImage(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
