package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"testing"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// keptModels is a model folder that can also load any model it holds,
// as the keeper of `app serve` does.
// keptModels loads the models it keeps by version (a VersionLoader).
type keptModels struct {
	models map[string]*fakeModel
}

func (k *keptModels) LoadVersion(_ context.Context, v string) (Model, error) {
	if m, ok := k.models[v]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("fake: %w", model.ErrUnknownVersion)
}

// storeBy stores one prediction of img as made by version and returns its id.
func storeBy(tb testing.TB, st Store, version string, img []byte, digit int) int64 {
	tb.Helper()
	p := &store.Prediction{Image: img, Prediction: digit, Confidence: 0.91, ModelVersion: version}
	p.Probabilities[digit] = 0.91
	if err := st.Create(context.Background(), []*store.Prediction{p}); err != nil {
		tb.Fatal(err)
	}
	return p.ID
}

// decodePNG decodes a 200 answer's PNG body.
func decodePNG(tb testing.TB, body []byte) image.Image {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("the answer is not a PNG: %v", err)
	}
	return img
}

func TestSaliencyShowsWhatMadeTheModelAnswer(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	served := &fakeModel{version: "v2"}
	s := newServer(t, st, served)
	// A short stroke on row 3, the rest black: the fake reads it as a 3,
	// and as a 0 (the first of the all-black rows) once it is hidden.
	stroke := make([]byte, pixels)
	for x := 10; x < 16; x++ {
		stroke[3*side+x] = 255
	}
	id := storeBy(t, st, "v2", stroke, 3)

	rec := do(t, s, http.MethodGet, fmt.Sprintf("/predictions/%d/saliency.png", id), "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	assertHeaderHas(t, rec, "Content-Type", "image/png")
	assertHeaderHas(t, rec, HeaderSaliencyModel, "v2")
	assertHeaderHas(t, rec, HeaderSaliencyMethod, "occlusion")
	assertHeaderHas(t, rec, "Cache-Control", "private")
	img := decodePNG(t, rec.Body.Bytes())
	if b := img.Bounds(); b.Dx() != 224 || b.Dy() != 224 {
		t.Fatalf("picture is %v, want 224x224 (28 pixels at the default scale 8)", b)
	}
	if served.calls.Load() != 1 {
		t.Errorf("the model was called %d times, want once for all the occluded copies", served.calls.Load())
	}
	t.Run("the row the model reads is warm", func(t *testing.T) {
		r, g, b, _ := img.At(100, 28).RGBA() // pixel (12, 3)
		if r>>8 < b>>8+100 {
			t.Errorf("colour (%d,%d,%d) on the decisive row, want red well above blue", r>>8, g>>8, b>>8)
		}
	})
	t.Run("rows far from it are plain grey", func(t *testing.T) {
		r, g, b, _ := img.At(116, 164).RGBA() // pixel (14, 20)
		if r != g || g != b {
			t.Errorf("colour (%d,%d,%d) far from the decisive row, want grey", r>>8, g>>8, b>>8)
		}
	})
	t.Run("scale sets the size", func(t *testing.T) {
		rec := do(t, s, http.MethodGet, fmt.Sprintf("/predictions/%d/saliency.png?scale=1", id), "", nil)
		if b := decodePNG(t, rec.Body.Bytes()).Bounds(); b.Dx() != 28 || b.Dy() != 28 {
			t.Errorf("scale=1 gives %v, want 28x28", b)
		}
	})
}

func TestSaliencyUsesTheModelThatMadeThePrediction(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	served, old := &fakeModel{version: "v2"}, &fakeModel{version: "v1"}
	s := newServer(t, st, served)
	id := storeBy(t, st, "v1", digitImage(4), 4)
	target := fmt.Sprintf("/predictions/%d/saliency.png", id)

	t.Run("while the folder still holds it", func(t *testing.T) {
		s.SetVersions(&keptModels{models: map[string]*fakeModel{"v1": old, "v2": served}})
		rec := do(t, s, http.MethodGet, target, "", nil)
		if rec.Code != http.StatusOK || rec.Header().Get(HeaderSaliencyModel) != "v1" {
			t.Fatalf("status %d, %s %q; want 200 from v1", rec.Code, HeaderSaliencyModel, rec.Header().Get(HeaderSaliencyModel))
		}
		if old.calls.Load() != 1 || served.calls.Load() != 0 {
			t.Errorf("v1 called %d times, v2 %d; want only v1", old.calls.Load(), served.calls.Load())
		}
	})
	t.Run("else the served one, named in the header", func(t *testing.T) {
		s.SetVersions(&keptModels{models: map[string]*fakeModel{"v2": served}})
		rec := do(t, s, http.MethodGet, target, "", nil)
		if rec.Code != http.StatusOK || rec.Header().Get(HeaderSaliencyModel) != "v2" {
			t.Fatalf("status %d, %s %q; want 200 from v2", rec.Code, HeaderSaliencyModel, rec.Header().Get(HeaderSaliencyModel))
		}
		assertHeaderHas(t, rec, "Cache-Control", "no-cache")
	})
	t.Run("and with a folder that cannot load models, the served one too", func(t *testing.T) {
		s.SetVersions(nil)
		rec := do(t, s, http.MethodGet, target, "", nil)
		if rec.Code != http.StatusOK || rec.Header().Get(HeaderSaliencyModel) != "v2" {
			t.Fatalf("status %d, %s %q; want 200 from v2", rec.Code, HeaderSaliencyModel, rec.Header().Get(HeaderSaliencyModel))
		}
	})
}

func TestSaliencyRefusesWhatItCannotAnswer(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v2"})
	id := storeBy(t, st, "v2", digitImage(3), 3)
	idle := newServer(t, st, nil)
	cases := []struct {
		name   string
		s      *Server
		target string
		status int
		words  string
	}{
		{"an unknown id", s, "/predictions/999999/saliency.png", 404, "no prediction with id 999999"},
		{"an id that is not a number", s, "/predictions/abc/saliency.png", 400, "positive integer"},
		{"a scale of 0", s, fmt.Sprintf("/predictions/%d/saliency.png?scale=0", id), 400, "scale must be an integer 1..16"},
		{"a scale of 17", s, fmt.Sprintf("/predictions/%d/saliency.png?scale=17", id), 400, "scale must be an integer 1..16"},
		{"a scale that is not a number", s, fmt.Sprintf("/predictions/%d/saliency.png?scale=big", id), 400, "scale must be an integer 1..16"},
		{"a server with no model yet", idle, fmt.Sprintf("/predictions/%d/saliency.png", id), 503, "no model loaded yet"},
	}
	for _, c := range cases {
		t.Run(c.name+" is answered "+fmt.Sprint(c.status), func(t *testing.T) {
			msg := errorOf(t, do(t, c.s, http.MethodGet, c.target, "", nil), c.status)
			if !bytes.Contains([]byte(msg), []byte(c.words)) {
				t.Errorf("error %q, want it to say %q", msg, c.words)
			}
		})
	}
}
