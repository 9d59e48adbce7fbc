package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestConcurrentPredictionsAreAllStored(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		const n = 64
		s := newServer(t, st, &fakeModel{version: "v"})
		recs := make([]*httptest.ResponseRecorder, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			body := mustJSON(t, map[string]any{"image": rows(digitImage(i % 10))})
			wg.Go(func() {
				<-start
				// Only the test goroutine may fail the test; answers are checked below.
				recs[i] = do(t, s, http.MethodPost, "/predict", "application/json", body)
			})
		}
		close(start)
		wg.Wait()
		seen := make(map[int64]bool)
		for i, rec := range recs {
			var p prediction
			decode(t, rec, http.StatusOK, &p)
			if seen[p.ID] || p.Prediction != i%10 {
				t.Errorf("request %d: answer %+v (duplicate id or wrong digit)", i, p)
			}
			seen[p.ID] = true
		}
		if got, err := st.Count(context.Background()); err != nil || got != n {
			t.Errorf("count %d (%v), want %d", got, err, n)
		}
	})
}
