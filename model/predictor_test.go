package model

import (
	"context"
	"sync"
	"testing"
)

func TestConcurrentCallsAroundCloseFailNoneAndKeepNoMachine(t *testing.T) {
	p := NewPredictor(NewWeights(1), Meta{Version: "v"})
	img := make([]byte, Pixels)
	want, err := p.Predict(context.Background(), [][]byte{img})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	start := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			<-start
			for range 8 {
				got, err := p.Predict(context.Background(), [][]byte{img, img}[:1+g%2])
				if err != nil {
					errs <- err
					return
				}
				if got[0] != want[0] {
					errs <- errAnswer
					return
				}
			}
		})
	}
	close(start)
	p.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a call around Close failed: %v", err)
	}
	if _, err := p.Predict(context.Background(), [][]byte{img}); err != nil {
		t.Errorf("Predict after Close: %v", err)
	}
	if n := len(p.idle); n != 0 {
		t.Errorf("the pool keeps %d machines after Close", n)
	}
}

type answerError struct{}

func (answerError) Error() string { return "a different answer around Close" }

var errAnswer = answerError{}
