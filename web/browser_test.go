package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store/storetest"
	"github.com/mnistserve/app/train"
)

// chromium returns the path of a Chromium binary, skipping the test (with
// the reason) where there is none: .ci/run installs Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH: skipping the browser test (apt-get install chromium)")
	return ""
}

// TestBrowserDrawsADigitAndGetsItsPrediction is the person trying the
// service in a browser: the real page, served by the real server with a
// model trained on real MNIST and a real store, in headless Chromium. It
// draws a "1" with the mouse, presses Predict, and expects the page to show
// 1 and the store to hold the row.
func TestBrowserDrawsADigitAndGetsItsPrediction(t *testing.T) {
	chrome := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cfg := train.DefaultConfig()
	cfg.DataDir, cfg.ModelDir, cfg.Epochs, cfg.Limit = testutil.MNISTDir(t), t.TempDir(), 2, 6000
	if _, err := train.Run(ctx, cfg, train.Hooks{}); err != nil {
		t.Fatal(err)
	}
	pred, err := model.LoadPredictor(cfg.ModelDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pred.Close()
	st, _ := storetest.Open(t, "sqlite")
	srv := serve.New(serve.DefaultConfig(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.SetModel(pred)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1200),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	if err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#pad")),
	); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	pad, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`(() => {
		const p = document.getElementById("pad");
		p.scrollIntoView();
		const r = p.getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	if err != nil || len(pad) != 4 {
		t.Fatalf("find the drawing pad: %v %v", pad, err)
	}
	// A vertical stroke down the middle of the pad, held down: a "1".
	x, top, h := pad[0]+pad[2]/2, pad[1]+pad[3]*0.15, pad[3]*0.7
	held := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }
	stroke := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x, top, chromedp.ButtonLeft, held, chromedp.ClickCount(1))}
	for i := 1; i <= 20; i++ {
		stroke = append(stroke, chromedp.MouseEvent(chromedp.MouseMoved, x, top+h*float64(i)/20, chromedp.ButtonLeft, held))
	}
	stroke = append(stroke, chromedp.MouseEvent(chromedp.MouseReleased, x, top+h, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	stroke = append(stroke,
		chromedp.Click(chromedp.CSS("#predict")),
		chromedp.Steps(
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Poll[bool](`document.getElementById("digit").textContent.trim() !== "?"`, chromedp.WithPollingTimeout(20*time.Second))(ctx, t)
				return err
			}),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Poll[bool](`document.querySelectorAll("#recent img").length > 0`, chromedp.WithPollingTimeout(20*time.Second))(ctx, t)
				return err
			}),
		),
	)
	if err := chromedp.Do(bctx, stroke...); err != nil {
		t.Fatalf("draw and predict: %v", err)
	}
	text := func(sel string) string {
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	digit, confidence, recent, footer := text("#digit"), text("#confidence"), text("#recent"), text("#model")
	if strings.TrimSpace(digit) != "1" {
		t.Errorf("the page shows %q for a drawn vertical stroke, want 1 (confidence %q)", digit, confidence)
	}
	if !strings.Contains(footer, pred.Version()) {
		t.Errorf("the footer %q does not name the served model %s", footer, pred.Version())
	}

	// The prediction the page showed is stored, and the recent list shows it.
	resp, err := http.Get(ts.URL + "/predictions?limit=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Predictions []struct {
			ID         int64 `json:"id"`
			Prediction int   `json:"prediction"`
		} `json:"predictions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Predictions) != 1 || list.Predictions[0].Prediction != 1 {
		t.Fatalf("stored predictions %+v, want the one 1 the page asked for", list.Predictions)
	}
	if !strings.Contains(recent, "1") {
		t.Errorf("recent predictions list %q does not show the stored 1", recent)
	}
}
