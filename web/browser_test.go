package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
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

// TestBrowser is the person trying the service in a browser: the real page,
// served by the real server with a model trained on real MNIST and a real
// store, in headless Chromium, with and without API keys. In every mode the
// page must run under the server's Content-Security-Policy without a single
// violation in the console.
func TestBrowser(t *testing.T) {
	chrome := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := train.DefaultConfig()
	cfg.DataDir, cfg.ModelDir, cfg.Epochs, cfg.Limit = testutil.MNISTDir(t), t.TempDir(), 2, 6000
	if screenshotDir(t) != "" {
		// Pictures for the README: curves worth looking at.
		cfg.Epochs, cfg.Limit = 6, 30000
	}
	if _, err := train.Run(ctx, cfg, train.Hooks{}); err != nil {
		t.Fatal(err)
	}
	pred, err := registry.New(registry.NewFolder(cfg.ModelDir), nil).Predictor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer pred.Close()

	// start serves the page with scfg and opens it in a fresh browser.
	var base string // the address of the last server started
	start := func(t *testing.T, scfg serve.Config) (*page, *store.Store) {
		st, _ := storetest.Open(t, "sqlite")
		srv := serve.New(scfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		srv.SetModel(pred)
		srv.SetCatalog(models{pred.Meta()})
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		base = ts.URL
		return openPage(t, ctx, chrome, ts.URL), st
	}

	t.Run("the models card draws each model's pictures with the API's numbers", func(t *testing.T) {
		checkModelPictures(t, ctx, chrome, pred)
	})

	t.Run("without keys it draws a 1, shows what the model saw and why, and everyone's recent drawings", func(t *testing.T) {
		p, st := start(t, serve.DefaultConfig())
		p.draw1AndPredict()
		if d := p.text("#digit"); d != "1" {
			t.Errorf("the page shows %q for a drawn vertical stroke, want 1 (%s)", d, p.text("#confidence"))
		}
		if footer := p.text("#model"); !strings.Contains(footer, pred.Version()) {
			t.Errorf("the footer %q does not name the served model %s", footer, pred.Version())
		}
		p.waitFor(`document.querySelectorAll("#recent img[src*='/image.png']").length === 1`)
		rows := stored(t, st)
		if len(rows) != 1 || rows[0].Prediction != 1 || rows[0].Client != nil {
			t.Fatalf("stored %+v, want the one 1 the page asked for, made by nobody", rows)
		}
		checkSaliencyShown(t, p, base, rows[0].ID)

		// "Wrong? It is a 7": the label is stored, the strip marks the
		// prediction wrong and the models card counts it.
		p.waitFor(`!document.getElementById("feedback").hidden && !document.getElementById("models-card").hidden`)
		if models := p.text("#models"); !strings.Contains(models, pred.Version()) || !strings.Contains(models, "no labels yet") {
			t.Errorf("the models card reads %q, want the served model with no labels yet", models)
		}
		p.run(chromedp.Click(chromedp.CSS(`#label-digits button[data-label="7"]`)))
		p.waitFor(`document.getElementById("feedback-status").textContent.includes("recorded as a 7")`)
		if rows := stored(t, st); rows[0].Label == nil || *rows[0].Label != 7 {
			t.Errorf("after pressing 7 the row's label is %v, want 7", rows[0].Label)
		}
		p.waitFor(`document.querySelectorAll("#recent li.wrong").length === 1`)
		if recent := p.text("#recent li.wrong"); !strings.Contains(recent, "is a 7") {
			t.Errorf("the strip marks the wrong prediction %q, want it to say it is a 7", recent)
		}
		p.waitFor(`document.getElementById("models").textContent.includes("0 of 1")`)
		// Pressing 7 again takes the label back.
		p.run(chromedp.Click(chromedp.CSS(`#label-digits button[data-label="7"]`)))
		p.waitFor(`document.getElementById("feedback-status").textContent.includes("removed")`)
		if rows := stored(t, st); rows[0].Label != nil {
			t.Errorf("after pressing 7 again the row's label is %d, want none", *rows[0].Label)
		}
		p.noCSPViolations()
	})

	t.Run("with keys it asks for a token, keeps it in session storage and shows only its own drawings", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "keys.json")
		alice, err := keys.Add(path, "alice", keys.RolePredict)
		if err != nil {
			t.Fatal(err)
		}
		ring, err := keys.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		scfg := serve.DefaultConfig()
		scfg.Keys = ring
		p, st := start(t, scfg)
		// Someone else's drawing, which alice must never see.
		other := &store.Prediction{Image: make([]byte, 784), Prediction: 7, Confidence: 0.9, ModelVersion: "x", Client: ptr("bob")}
		if err := st.Create(context.Background(), []*store.Prediction{other}); err != nil {
			t.Fatal(err)
		}

		p.waitFor(`!document.getElementById("auth").hidden`)
		p.draw1AndPredict()
		if d := p.text("#digit"); d != "?" || !strings.Contains(p.text("#error"), "token") {
			t.Errorf("without a token: digit %q, error %q; want no prediction and a word about the token", d, p.text("#error"))
		}
		if n := len(stored(t, st)); n != 1 {
			t.Fatalf("%d rows stored after a refused prediction, want only bob's", n)
		}

		p.run(chromedp.SendKeys(chromedp.CSS("#token"), alice), chromedp.Click(chromedp.CSS("#use-token")))
		p.waitFor(`document.getElementById("auth").hidden`)
		if got := p.eval(`sessionStorage.getItem("mnist-token")`); got != alice {
			t.Errorf("session storage holds %q, want the token", got)
		}
		p.draw1AndPredict()
		if d := p.text("#digit"); d != "1" {
			t.Errorf("with the token the page shows %q, want 1 (%s)", d, p.text("#error"))
		}
		// The strip shows alice's drawing (fetched with the token, shown from
		// memory) and not bob's.
		p.waitFor(`document.querySelectorAll("#recent img[src^='blob:']").length === 1`)
		if recent := p.text("#recent"); strings.Contains(recent, fmt.Sprintf("#%d", other.ID)) {
			t.Errorf("alice's strip shows bob's prediction %d: %q", other.ID, recent)
		}
		rows := stored(t, st)
		if len(rows) != 2 || rows[0].Client == nil || *rows[0].Client != "alice" {
			t.Fatalf("stored %+v, want alice's prediction recorded as hers", rows)
		}
		// A reload keeps the token for this tab.
		p.run(chromedp.Reload())
		p.waitFor(`document.querySelectorAll("#recent img[src^='blob:']").length === 1`)
		if !p.bool(`document.getElementById("auth").hidden`) {
			t.Error("after a reload the page asks for the token again")
		}
		p.noCSPViolations()
	})

	t.Run("with open-predict anyone predicts and nothing stored is shown", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		if _, err := keys.Add(path, "ops", keys.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		ring, err := keys.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		scfg := serve.DefaultConfig()
		scfg.Keys, scfg.OpenPredict = ring, true
		p, st := start(t, scfg)
		p.draw1AndPredict()
		if d := p.text("#digit"); d != "1" {
			t.Errorf("anonymous prediction shows %q, want 1 (%s)", d, p.text("#error"))
		}
		if p.bool(`document.querySelectorAll("#recent img").length > 0`) {
			t.Error("the strip shows stored drawings to an anonymous visitor")
		}
		if rows := stored(t, st); len(rows) != 1 || rows[0].Client != nil {
			t.Fatalf("stored %+v, want one anonymous row", rows)
		}
		p.noCSPViolations()
	})
}

func ptr(s string) *string { return &s }

// stored lists the rows of st, newest first.
func stored(t *testing.T, st *store.Store) []store.Prediction {
	t.Helper()
	rows, err := st.List(context.Background(), store.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// page is a browser tab on the page, recording what its console says.
type page struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	messages []string
}

// openPage starts Chromium, records its console and log, and loads url.
func openPage(t *testing.T, parent context.Context, chrome, url string) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1200),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	p := &page{t: t, ctx: bctx}
	if err := chromedp.Listen(bctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			msg = string(ev.Entry.Source) + ": " + ev.Entry.Text
		case *runtime.EventConsoleAPICalled:
			for _, a := range ev.Args {
				msg += " " + string(a.Value) + a.Description
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		default:
			return
		}
		p.mu.Lock()
		p.messages = append(p.messages, msg)
		p.mu.Unlock()
	}); err != nil {
		t.Fatalf("listen to the console: %v", err)
	}
	p.run(chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("#pad")))
	return p
}

func (p *page) run(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (p *page) eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

func (p *page) bool(js string) bool {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return b
}

// waitFor polls js until it is true, for up to 20 seconds.
func (p *page) waitFor(js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		p.t.Fatalf("waiting for %s: %v (console: %q)", js, err, p.console())
	}
}

// draw1AndPredict clears the pad, draws a vertical stroke with the mouse
// held down (a "1"), presses Predict and waits for the answer or the error.
func (p *page) draw1AndPredict() {
	p.t.Helper()
	p.run(chromedp.Click(chromedp.CSS("#clear")))
	pad, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]float64](`(() => {
		const p = document.getElementById("pad");
		p.scrollIntoView();
		const r = p.getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	if err != nil || len(pad) != 4 {
		p.t.Fatalf("find the drawing pad: %v %v", pad, err)
	}
	x, top, h := pad[0]+pad[2]/2, pad[1]+pad[3]*0.15, pad[3]*0.7
	held := func(e *input.DispatchMouseEventParams) { e.Buttons = 1 }
	stroke := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x, top, chromedp.ButtonLeft, held, chromedp.ClickCount(1))}
	for i := 1; i <= 20; i++ {
		stroke = append(stroke, chromedp.MouseEvent(chromedp.MouseMoved, x, top+h*float64(i)/20, chromedp.ButtonLeft, held))
	}
	stroke = append(stroke, chromedp.MouseEvent(chromedp.MouseReleased, x, top+h, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	p.run(stroke...)
	p.run(chromedp.Click(chromedp.CSS("#predict")))
	p.waitFor(`!document.getElementById("predict").disabled &&
		(document.getElementById("digit").textContent.trim() !== "?" || !document.getElementById("error").hidden)`)
}

func (p *page) console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.messages...)
}

// noCSPViolations fails the test for any message of the browser about the
// Content-Security-Policy: a refused inline script or style, image or frame.
func (p *page) noCSPViolations() {
	p.t.Helper()
	for _, m := range p.console() {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Refused to") {
			p.t.Errorf("CSP violation in the console: %s", m)
		}
	}
}
