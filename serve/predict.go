package serve

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
)

// maxBatch is the most images one /predict/batch request may carry.
const maxBatch = 256

// prediction is the answer for one image.
type prediction struct {
	Prediction    int                    `json:"prediction"`
	Confidence    float32                `json:"confidence"`
	Probabilities [model.Classes]float32 `json:"probabilities"`
	ID            int64                  `json:"id"`
	ModelVersion  string                 `json:"model_version"`
}

// handlePredict serves POST /predict: one image as JSON (28x28 or 784
// values), as a PNG or JPEG body, or as the multipart file field "image".
func (s *Server) handlePredict(c echo.Context) error {
	kind, params, err := contentKind(c.Request().Header.Get(echo.HeaderContentType), true)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	key, err := s.idempotencyKey(c)
	if err != nil {
		return err
	}
	defer key.done()
	release, err := s.admit(c.Request().Context())
	if err != nil {
		return err
	}
	defer release()
	var img []byte
	switch kind {
	case bodyImage:
		img, err = s.readImageBody(c.Request().Context(), body, "body")
	case bodyMultipart:
		img, err = s.readMultipartImage(c.Request().Context(), body, params)
	default:
		img, err = imageFromJSON(body)
	}
	if err != nil {
		return err
	}
	preds, err := s.predict(c.Request().Context(), clientOf(c), [][]byte{img}, key)
	if err != nil {
		return err
	}
	key.header(c)
	return writePrediction(c, &preds[0])
}

// imageFromJSON reads the body {"image": ...}: the one-pass scanner for
// the plainest body, else, once its nesting is known to be shallow, the
// precise decoder, which takes any valid form and words what is wrong.
func imageFromJSON(body []byte) ([]byte, error) {
	if img, ok := scanImage(body); ok {
		return img, nil
	}
	if err := checkNesting(body, imageDepth); err != nil {
		return nil, err
	}
	return preciseImage(body)
}

// preciseImage is the slow path of imageFromJSON.
func preciseImage(body []byte) ([]byte, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, err := field(obj, "image")
	if err != nil {
		return nil, err
	}
	img, err := parseImage(raw)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return img, nil
}

// batchAnswer is the answer of /predict/batch.
type batchAnswer struct {
	Predictions []prediction `json:"predictions"`
}

// handlePredictBatch serves POST /predict/batch: {"images": [img, ...]},
// 1..256 images in either JSON form, answered in order.
func (s *Server) handlePredictBatch(c echo.Context) error {
	body, err := s.readJSONBody(c)
	if err != nil {
		return err
	}
	key, err := s.idempotencyKey(c)
	if err != nil {
		return err
	}
	defer key.done()
	release, err := s.admit(c.Request().Context())
	if err != nil {
		return err
	}
	defer release()
	imgs, err := imagesFromJSON(body)
	if err != nil {
		return err
	}
	preds, err := s.predict(c.Request().Context(), clientOf(c), imgs, key)
	if err != nil {
		return err
	}
	key.header(c)
	return c.JSON(http.StatusOK, batchAnswer{Predictions: preds})
}

// imagesFromJSON reads the body {"images": [...]}, naming the index of the
// first bad image (the precise decoder's work, when the scanner fails).
func imagesFromJSON(body []byte) ([][]byte, error) {
	if imgs, ok := scanImages(body); ok {
		return imgs, nil
	}
	if err := checkNesting(body, batchDepth); err != nil {
		return nil, err
	}
	return preciseImages(body)
}

// preciseImages is the slow path of imagesFromJSON.
func preciseImages(body []byte) ([][]byte, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, err := field(obj, "images")
	if err != nil {
		return nil, err
	}
	if kind(raw) != "an array" {
		return nil, invalid("images is %s, want an array of 1..%d images", kind(raw), maxBatch)
	}
	n := countElements(raw)
	switch {
	case n == 0:
		return nil, invalid("images is empty, want 1..%d images", maxBatch)
	case n > maxBatch:
		return nil, invalid("images has %d images, want at most %d", n, maxBatch)
	}
	imgs := make([][]byte, n)
	elements(raw, func(i int, e []byte) bool {
		if imgs[i], err = parseImage(e); err != nil {
			err = invalid("images[%d]: %v", i, err)
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return imgs, nil
}

// admit takes an admission slot of the pipeline (see pipeline.Admit), so
// that a request the server cannot take now is answered at once, before its
// body is decoded. The caller calls release once its answer is decided.
func (s *Server) admit(ctx context.Context) (release func(), err error) {
	t, err := s.pipe.Admit(ctx)
	if err != nil {
		return nil, err
	}
	return t.Release, nil
}

// predict runs imgs through the pipeline as made by client (nil:
// anonymous) and returns the answers once they are committed. With an
// Idempotency-Key (key, nil for none) whose rows are stored already, it
// returns the stored answers instead (idempotency.go).
func (s *Server) predict(ctx context.Context, client *string, imgs [][]byte, key *idemKey) ([]prediction, error) {
	res, err := s.pipe.Predict(ctx, pipeline.Request{Client: client, Images: imgs, Mark: key.mark})
	if key != nil && errors.Is(err, store.ErrKeyUsed) {
		return s.replay(ctx, key, len(imgs))
	}
	if err != nil {
		return nil, err
	}
	out := make([]prediction, len(res))
	for i, r := range res {
		out[i] = prediction(r)
	}
	return out, nil
}

// pipelineHooks feed the pipeline's events into the metrics and the log.
func (s *Server) pipelineHooks() pipeline.Hooks {
	return pipeline.Hooks{
		Admitted: func(ctx context.Context, d time.Duration) {
			observeLatency(&s.metrics.exemplars.admitted, s.metrics.admitted, d.Seconds(), s.spanContextOf(ctx))
		},
		QueueWait:  func(d time.Duration) { s.metrics.queueWait.Observe(d.Seconds()) },
		ModelBatch: func(n int) { s.metrics.modelBatch.Observe(float64(n)) },
		Committed: func(rows []*store.Prediction, took time.Duration) {
			s.metrics.storeWrite.Observe(took.Seconds())
			s.metrics.batchSize.Observe(float64(len(rows)))
			for _, r := range rows {
				s.metrics.perDigit[r.Prediction].Inc()
			}
		},
		Panic: func(v any, stack []byte) {
			s.logger.Error("panic in model", "error", v, "stack", string(stack))
		},
	}
}
