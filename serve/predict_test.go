package serve

import (
	"bytes"
	"context"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// assertStored fails unless the row of p holds img and the same answer,
// and its image.png decodes to exactly img.
func assertStored(t *testing.T, s *Server, st *store.Store, p prediction, img []byte) {
	t.Helper()
	row, err := st.Get(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("get stored row %d: %v", p.ID, err)
	}
	if !bytes.Equal(row.Image, img) {
		t.Errorf("row %d: stored image differs from the one sent", p.ID)
	}
	if row.Prediction != p.Prediction || row.Confidence != p.Confidence ||
		row.Probabilities != store.Probabilities(p.Probabilities) || row.ModelVersion != p.ModelVersion {
		t.Errorf("row %d = %d %v %v %q, answered %d %v %v %q", p.ID,
			row.Prediction, row.Confidence, row.Probabilities, row.ModelVersion,
			p.Prediction, p.Confidence, p.Probabilities, p.ModelVersion)
	}
	rec := do(t, s, http.MethodGet, "/predictions/"+itoa(p.ID)+"/image.png", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("image.png: status %d, body %s", rec.Code, rec.Body.String())
	}
	assertHeaderHas(t, rec, "Content-Type", "image/png")
	if got := pngPixels(t, rec.Body.Bytes()); !bytes.Equal(got, img) {
		t.Errorf("row %d: image.png pixels differ from the ones sent", p.ID)
	}
}

// pngPixels decodes a 28x28 PNG into its 784 gray bytes.
func pngPixels(tb testing.TB, b []byte) []byte {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("decode png: %v", err)
	}
	if r := img.Bounds(); r.Dx() != side || r.Dy() != side {
		tb.Fatalf("png is %dx%d, want 28x28", r.Dx(), r.Dy())
	}
	out := make([]byte, 0, pixels)
	for y := range side {
		for x := range side {
			out = append(out, color.GrayModel.Convert(img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y)).(color.Gray).Y)
		}
	}
	return out
}

func TestPredictStoresTheAnswerItSends(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		m := &fakeModel{version: "fake-v1"}
		s := newServer(t, st, m)

		pngBody := inkPNG()
		pngWant, err := imaging.Decode(bytes.NewReader(pngBody))
		if err != nil {
			t.Fatalf("imaging.Decode of the test PNG: %v", err)
		}
		var jpgBuf bytes.Buffer
		pic, _ := png.Decode(bytes.NewReader(pngBody))
		if err := jpeg.Encode(&jpgBuf, pic, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		jpgWant, err := imaging.Decode(bytes.NewReader(jpgBuf.Bytes()))
		if err != nil {
			t.Fatalf("imaging.Decode of the test JPEG: %v", err)
		}
		form, formType := multipartImage("image", pngBody)

		cases := []struct {
			name        string
			contentType string
			body        []byte
			want        []byte
		}{
			{"28 rows of 28 ints as the original clients send", "application/json", mustJSON(t, map[string]any{"image": rows(digitImage(7))}), digitImage(7)},
			{"784 flat ints", "application/json", mustJSON(t, map[string]any{"image": flat(digitImage(3))}), digitImage(3)},
			{"JSON with no Content-Type", "", mustJSON(t, map[string]any{"image": rows(digitImage(5))}), digitImage(5)},
			{"JSON labelled text/plain", "text/plain; charset=utf-8", mustJSON(t, map[string]any{"image": rows(digitImage(4))}), digitImage(4)},
			{"integers written as 7.0 and extra fields ignored", "application/json", bytes.Replace(mustJSON(t, map[string]any{"image": rows(digitImage(2)), "label": 2}), []byte("255"), []byte("255.0"), 1), digitImage(2)},
			{"a PNG body", "image/png", pngBody, pngWant},
			{"a JPEG body", "image/jpeg", jpgBuf.Bytes(), jpgWant},
			{"a multipart file field image", formType, form, pngWant},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := count(t, st)
				rec := do(t, s, http.MethodPost, "/predict", tc.contentType, tc.body)
				var p prediction
				decode(t, rec, http.StatusOK, &p)
				if want := brightestRow(tc.want) % 10; p.Prediction != want {
					t.Errorf("prediction %d, want %d", p.Prediction, want)
				}
				if p.Confidence != 0.91 || p.Probabilities[p.Prediction] != 0.91 || p.ModelVersion != "fake-v1" || p.ID < 1 {
					t.Errorf("answer %+v: want confidence 0.91, model fake-v1 and an id", p)
				}
				if got := count(t, st); got != before+1 {
					t.Errorf("count %d after, want %d", got, before+1)
				}
				assertStored(t, s, st, p, tc.want)
			})
		}
	})
}

func TestPredictBatchStoresEveryImageInOrder(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		m := &fakeModel{version: "fake-v1"}
		s := newServer(t, st, m)
		var imgs [][]byte
		var body []any
		for i := range 12 {
			img := digitImage(i % 10)
			imgs = append(imgs, img)
			if i%2 == 0 {
				body = append(body, rows(img))
			} else {
				body = append(body, flat(img))
			}
		}
		rec := do(t, s, http.MethodPost, "/predict/batch", "application/json", mustJSON(t, map[string]any{"images": body}))
		var ans batchAnswer
		decode(t, rec, http.StatusOK, &ans)
		if len(ans.Predictions) != len(imgs) {
			t.Fatalf("%d predictions, want %d", len(ans.Predictions), len(imgs))
		}
		if m.calls.Load() != 1 {
			t.Errorf("model called %d times, want once for the whole batch", m.calls.Load())
		}
		if got := count(t, st); got != int64(len(imgs)) {
			t.Errorf("count %d, want %d", got, len(imgs))
		}
		for i, p := range ans.Predictions {
			if p.Prediction != i%10 {
				t.Errorf("predictions[%d] = %d, want %d", i, p.Prediction, i%10)
			}
			if i > 0 && p.ID <= ans.Predictions[i-1].ID {
				t.Errorf("ids not in request order: %d after %d", p.ID, ans.Predictions[i-1].ID)
			}
			assertStored(t, s, st, p, imgs[i])
		}
	})
}

func TestPredictBatchTakesExactly256(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	imgs := make([][]int, maxBatch)
	for i := range imgs {
		imgs[i] = flat(digitImage(i % 10))
	}
	body := mustJSON(t, map[string]any{"images": imgs})
	if len(body) > 1<<20 {
		t.Fatalf("test body of %d bytes is over the default limit", len(body))
	}
	var ans batchAnswer
	decode(t, do(t, s, http.MethodPost, "/predict/batch", "application/json", body), http.StatusOK, &ans)
	if len(ans.Predictions) != maxBatch || count(t, st) != maxBatch {
		t.Errorf("%d answers and %d rows, want %d of each", len(ans.Predictions), count(t, st), maxBatch)
	}
}

// multipartImage builds a form with data as the file field name.
// Writes to a bytes.Buffer cannot fail.
func multipartImage(name string, data []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("note", "ignored")
	fw, _ := w.CreateFormFile(name, "digit.png")
	_, _ = fw.Write(data)
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
