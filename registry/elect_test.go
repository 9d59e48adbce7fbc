package registry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

// replica is a keeper of its own registry on shared storage, as a server
// process would have.
type replica struct {
	k      *Keeper
	served atomic.Value // the version handed to the server
}

func newReplica(tb testing.TB, b Backend) *replica {
	rp := &replica{}
	rp.k = NewKeeper(New(b, nil), func(p *model.Predictor) { rp.served.Store(p.Version()) }, func(string) {}, nil)
	rp.k.ElectEvery = 20 * time.Millisecond
	tb.Cleanup(rp.k.Close)
	return rp
}

func (rp *replica) version() string {
	v, _ := rp.served.Load().(string)
	return v
}

// fakeTrain stands for a training run: it counts itself, takes a moment,
// and saves fresh weights through the registry.
func fakeTrain(reg *Registry, runs *atomic.Int64, took time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		runs.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(took):
		}
		_, err := reg.Save(ctx, model.NewWeights(7), model.Meta{})
		return err
	}
}

// TestTwoReplicasBootingTogetherTrainOnce starts two replicas at the same
// instant on an empty store, ten times over: each time exactly one trains,
// and both end up serving its model.
func TestTwoReplicasBootingTogetherTrainOnce(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		for round := 0; round < 10; round++ {
			kt := newKit(t, k.name) // an empty store each round
			var runs atomic.Int64
			a, b := newReplica(t, kt.open(t)), newReplica(t, kt.open(t))
			c, cancel := context.WithCancel(ctx(t))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, rp := range []*replica{a, b} {
				wg.Add(2)
				go func() { defer wg.Done(); <-start; rp.k.FirstBoot(c, fakeTrain(rp.k.reg, &runs, 50*time.Millisecond)) }()
				go func() { defer wg.Done(); rp.k.Watch(c, 20*time.Millisecond) }()
			}
			close(start)
			waitUntil(t, "both replicas serve a model", 10*time.Second, func() bool { return a.version() != "" && b.version() != "" })
			cancel()
			wg.Wait()
			if n := runs.Load(); n != 1 || a.version() != b.version() {
				t.Fatalf("round %d: %d training runs, serving %q and %q; want one run, one model", round, n, a.version(), b.version())
			}
		}
	})
}

// TestAnotherReplicaTakesOverWhenTheTrainerDies: the elected trainer stops
// (its process dies, its lease goes with it); the waiting replica is
// elected and trains.
func TestAnotherReplicaTakesOverWhenTheTrainerDies(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		var runs atomic.Int64
		a, b := newReplica(t, k.open(t)), newReplica(t, k.open(t))
		trainerCtx, killTrainer := context.WithCancel(ctx(t))
		aDone := make(chan struct{})
		go func() {
			defer close(aDone)
			a.k.FirstBoot(trainerCtx, fakeTrain(a.k.reg, &runs, time.Hour)) // never finishes on its own
		}()
		waitUntil(t, "a is training", 5*time.Second, func() bool { return runs.Load() == 1 })
		if _, err := b.k.reg.Elect(ctx(t)); !errors.Is(err, ErrTrainingElsewhere) {
			t.Fatalf("while a trains, Elect: %v, want ErrTrainingElsewhere", err)
		}
		bDone := make(chan error, 1)
		go func() { bDone <- b.k.FirstBoot(ctx(t), fakeTrain(b.k.reg, &runs, 10*time.Millisecond)) }()
		time.Sleep(100 * time.Millisecond) // b waits
		if runs.Load() != 1 {
			t.Fatalf("b trained while a held the lease")
		}
		killTrainer()
		<-aDone
		select {
		case err := <-bDone:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("b did not take over within 10s of a's death")
		}
		if runs.Load() != 2 || b.version() == "" {
			t.Errorf("%d runs, b serves %q; want b to have trained and serve its model", runs.Load(), b.version())
		}
	})
}

// TestFirstBootDoesNotTrainWhenShutDownDuringTheElection: a shutdown that
// comes while the replica takes the lease (the other replica's model may
// be there already, unread) trains nothing. The folder's lock file is
// taken whatever the context says, so there the election succeeds and
// only the check after it stands between a cancelled run and training.
func TestFirstBootDoesNotTrainWhenShutDownDuringTheElection(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		var runs atomic.Int64
		rp := newReplica(t, k.open(t))
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		if err := rp.k.FirstBoot(c, fakeTrain(rp.k.reg, &runs, time.Millisecond)); err != nil {
			t.Fatalf("FirstBoot after shutdown: %v, want nil", err)
		}
		if n := runs.Load(); n != 0 {
			t.Fatalf("%d training runs after shutdown, want none", n)
		}
	})
}
