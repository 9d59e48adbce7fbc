package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// screenshotDir is where the browser test saves pictures of the page for
// the README (SCREENSHOTS=docs/pictures, relative to the module root), or
// "" to save none.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // go test runs in web/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the element sel as name.png in the screenshot folder,
// when there is one.
func (p *page) screenshot(sel, name string) {
	p.t.Helper()
	dir := screenshotDir(p.t)
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("screenshot of %s: %v", sel, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// float evaluates js to a number.
func (p *page) float(js string) float64 {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[float64](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// floats evaluates js to a list of numbers.
func (p *page) floats(js string) []float64 {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]float64](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// models is a model folder holding the given models, the first served.
type models []model.Meta

func (m models) Models() ([]model.Meta, string, error) { return m, "", nil }
func (m models) Promote(string) error                  { return nil }
func (m models) Rollback() (string, error)             { return "", model.ErrNothingToRollBack }

// getJSON fetches url and decodes its JSON into v, failing on a status
// other than 200.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// seedLabelled stores the real model's answers to n MNIST test digits from
// all over the test set, spread over the last two days and labelled with
// their true digits, as users correcting the page would, and returns how
// many it got right.
func seedLabelled(t *testing.T, st *store.Store, pred *model.Predictor, n int) int {
	t.Helper()
	test, err := mnist.LoadTest(testutil.MNISTDir(t))
	if err != nil {
		t.Fatal(err)
	}
	// Digits from all over the test set, not only its easy start.
	idx := make([]int, n)
	imgs := make([][]byte, n)
	for i := range imgs {
		idx[i] = i * 7919 % test.Len()
		imgs[i] = test.Image(idx[i])
	}
	probs, err := pred.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-48 * time.Hour)
	right := 0
	for i, p := range probs {
		d := model.Best(p)
		row := &store.Prediction{
			CreatedAt: start.Add(time.Duration(i) * 48 * time.Hour / time.Duration(n)),
			Image:     imgs[i], Prediction: d, Confidence: p[d], Probabilities: p, ModelVersion: pred.Version(),
		}
		if err := st.Create(context.Background(), []*store.Prediction{row}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetLabel(context.Background(), row.ID, int(test.Labels[idx[i]])); err != nil {
			t.Fatal(err)
		}
		if d == int(test.Labels[idx[i]]) {
			right++
		}
	}
	return right
}

// checkModelPictures opens the pictures of the served model and of an
// older one that lacks curves and matrix, and checks each picture against
// the API's numbers.
func checkModelPictures(t *testing.T, ctx context.Context, chrome string, pred *model.Predictor) {
	st, _ := storetest.Open(t, "sqlite")
	srv := serve.New(serve.DefaultConfig(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer srv.Close()
	srv.SetModel(pred)
	old := model.Meta{Version: "20240101T000000.000Z", TestAccuracy: 0.9871, Epochs: 12, TrainImages: 54000}
	srv.SetCatalog(models{pred.Meta(), old})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	right := seedLabelled(t, st, pred, 400)

	var list struct {
		Models []struct {
			model.Meta
		} `json:"models"`
	}
	getJSON(t, ts.URL+"/models", &list)
	m := list.Models[0].Meta
	if m.Version != pred.Version() || len(m.History) == 0 || m.TestConfusion == nil {
		t.Fatalf("GET /models gives %+v first, want the served model with its history and confusion matrix", m)
	}
	var live struct {
		Labelled int64 `json:"labelled"`
		Correct  int64 `json:"correct"`
		Points   []struct {
			Accuracy float64 `json:"accuracy"`
		} `json:"points"`
	}
	getJSON(t, ts.URL+"/models/"+m.Version+"/live", &live)
	if live.Labelled != 400 || live.Correct != int64(right) || len(live.Points) < 2 {
		t.Fatalf("live accuracy %+v, want 400 labelled, %d right, in several buckets", live, right)
	}

	p := openPage(t, ctx, chrome, ts.URL)
	p.waitFor(`document.querySelectorAll("#models button[data-version]").length === 2`)
	p.run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#models button[data-version=%q]`, m.Version))))
	p.waitFor(`!document.getElementById("model-detail").hidden && document.querySelectorAll("#live-chart circle[data-y]").length > 0`)

	t.Run("the curves have one point per epoch at the recorded values", func(t *testing.T) {
		losses := p.floats(`[...document.querySelectorAll("#curve-loss .series circle")].map((c) => +c.dataset.y)`)
		val := p.floats(`[...document.querySelectorAll('#curve-acc .series[data-name="validation"] circle')].map((c) => +c.dataset.y)`)
		train := p.floats(`[...document.querySelectorAll('#curve-acc .series[data-name="training"] circle')].map((c) => +c.dataset.y)`)
		if len(losses) != m.Epochs || len(val) != m.Epochs || len(train) != m.Epochs {
			t.Fatalf("%d loss, %d validation and %d training points for %d epochs", len(losses), len(val), len(train), m.Epochs)
		}
		for i, h := range m.History {
			if losses[i] != h.Loss || val[i] != h.ValAccuracy || train[i] != h.TrainAccuracy {
				t.Errorf("epoch %d drawn at loss %v, accuracies %v/%v; the API says %+v", i+1, losses[i], train[i], val[i], h)
			}
		}
	})
	t.Run("the confusion matrix holds the test images with the test accuracy on its diagonal", func(t *testing.T) {
		cells := p.floats(`[...document.querySelectorAll("#confusion rect[data-count]")].map((r) => +r.dataset.count)`)
		if len(cells) != 100 {
			t.Fatalf("%d cells, want 100", len(cells))
		}
		var total, diag float64
		for i, c := range cells {
			if int(c) != m.TestConfusion[i/10][i%10] {
				t.Errorf("cell (%d,%d) shows %v, the API says %d", i/10, i%10, c, m.TestConfusion[i/10][i%10])
			}
			total += c
			if i/10 == i%10 {
				diag += c
			}
		}
		if d := p.float(`[...document.querySelectorAll("#confusion rect[data-diag]")].reduce((a, r) => a + +r.dataset.count, 0)`); d != diag {
			t.Errorf("the diagonal marked on the page sums to %v, its cells to %v", d, diag)
		}
		if total != 10000 || diag != math.Round(m.TestAccuracy*10000) {
			t.Errorf("the matrix counts %v images with %v on the diagonal; want 10000 and test accuracy %v x 10000", total, diag, m.TestAccuracy)
		}
	})
	t.Run("each digit's bar is its row's accuracy", func(t *testing.T) {
		bars := p.floats(`[...document.querySelectorAll("#per-digit rect[data-value]")].map((r) => +r.dataset.value)`)
		if len(bars) != 10 {
			t.Fatalf("%d bars, want 10", len(bars))
		}
		for d, row := range m.TestConfusion {
			sum := 0
			for _, c := range row {
				sum += c
			}
			if want := float64(row[d]) / float64(sum); math.Abs(bars[d]-want) > 1e-9 {
				t.Errorf("digit %d's bar is %v, want %v", d, bars[d], want)
			}
		}
	})
	t.Run("live accuracy has the API's points beside the test accuracy", func(t *testing.T) {
		pts := p.floats(`[...document.querySelectorAll("#live-chart .series circle")].map((c) => +c.dataset.y)`)
		if len(pts) != len(live.Points) {
			t.Fatalf("%d points drawn, the API has %d", len(pts), len(live.Points))
		}
		for i, lp := range live.Points {
			if pts[i] != lp.Accuracy {
				t.Errorf("point %d at %v, the API says %v", i, pts[i], lp.Accuracy)
			}
		}
		if ref := p.float(`+document.querySelector("#live-chart .ref").dataset.y`); ref != m.TestAccuracy {
			t.Errorf("the test accuracy line is at %v, want %v", ref, m.TestAccuracy)
		}
	})
	p.screenshot("#models-card", "model-pictures")

	t.Run("a model trained before the pictures were recorded says so", func(t *testing.T) {
		p.run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#models button[data-version=%q]`, old.Version))))
		p.waitFor(`document.getElementById("detail-h").textContent.includes("` + old.Version + `") &&
			document.querySelector("#live-chart p") !== null`)
		for _, id := range []string{"#curve-loss", "#curve-acc", "#confusion", "#per-digit"} {
			if got := p.text(id); !strings.Contains(got, "Not recorded") {
				t.Errorf("%s reads %q, want it to say the data was not recorded", id, got)
			}
		}
		if got := p.text("#live-chart"); !strings.Contains(got, "No labelled predictions") {
			t.Errorf("the live chart reads %q, want it to say there are no labels", got)
		}
	})
	p.noCSPViolations()
}

// checkSaliencyShown checks that the answer shows the stored 28x28 input
// and its saliency map as the API serves them.
func checkSaliencyShown(t *testing.T, p *page, base string, id int64) {
	t.Helper()
	p.waitFor(`!document.getElementById("seen-box").hidden &&
		document.getElementById("seen").complete && document.getElementById("seen").naturalWidth > 0 &&
		document.getElementById("why").complete && document.getElementById("why").naturalWidth > 0`)
	res, err := http.Get(fmt.Sprintf("%s/predictions/%d/saliency.png", base, id))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	img, err := png.Decode(res.Body)
	if err != nil {
		t.Fatalf("saliency.png: %v", err)
	}
	want := img.Bounds().Dx()
	if w, h := p.float(`document.getElementById("why").naturalWidth`), p.float(`document.getElementById("why").naturalHeight`); int(w) != want || int(h) != want || want != 224 {
		t.Errorf("the page's saliency picture is %vx%v, the API's %dx%d; want 224x224", w, h, want, want)
	}
	if w := p.float(`document.getElementById("seen").naturalWidth`); w != 28 {
		t.Errorf("the image the model saw is %v pixels wide, want 28", w)
	}
	if src := p.eval(`document.getElementById("why").getAttribute("src")`); src != fmt.Sprintf("/predictions/%d/saliency.png", id) {
		t.Errorf("the saliency picture comes from %q, want prediction %d's", src, id)
	}
	p.screenshot(".try", "prediction-saliency")
}
