package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestCreateThenGetReadsBackEveryField(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		before := time.Now()
		want := []*store.Prediction{storetest.Prediction(7, 1), storetest.Prediction(0, 2), storetest.Prediction(9, 3)}
		want[1].ModelVersion = "20250101T000000Z-ü" // non-ASCII survives
		want[2].Image[0], want[2].Image[783] = 0, 255
		if err := s.Create(ctx, want); err != nil {
			t.Fatalf("Create: %v", err)
		}
		after := time.Now()
		for i, w := range want {
			if w.ID <= 0 || (i > 0 && w.ID <= want[i-1].ID) {
				t.Fatalf("IDs after Create are %d, %d: want positive and increasing", want[max(i-1, 0)].ID, w.ID)
			}
			if w.CreatedAt.Before(before.Add(-time.Second)) || w.CreatedAt.After(after.Add(time.Second)) {
				t.Errorf("CreatedAt %v not between %v and %v", w.CreatedAt, before, after)
			}
			got, err := s.Get(ctx, w.ID)
			if err != nil {
				t.Fatalf("Get(%d): %v", w.ID, err)
			}
			assertEqual(t, got, w)
		}
	})
}

func TestGetUnknownIDIsNotFound(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.Create(ctx, []*store.Prediction{storetest.Prediction(1, 1)}); err != nil {
			t.Fatalf("Create: %v", err)
		}
		for _, id := range []int64{0, -1, 999999} {
			if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%d) error = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestCreateIsAllOrNothing(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		t.Run("a row the database refuses stores none of the batch", func(t *testing.T) {
			bad := storetest.Prediction(3, 3)
			bad.Prediction = 42 // outside 0..9: the check constraint refuses it
			err := s.Create(ctx, []*store.Prediction{storetest.Prediction(1, 1), storetest.Prediction(2, 2), bad})
			if err == nil {
				t.Fatal("Create with digit 42 succeeded, want an error")
			}
			if errors.Is(err, store.ErrUnavailable) {
				t.Errorf("refused row reported as unavailable database: %v", err)
			}
			assertCount(t, s, 0)
		})
		t.Run("a cancelled context stores nothing", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Create(cctx, []*store.Prediction{storetest.Prediction(1, 1)}); !errors.Is(err, context.Canceled) {
				t.Errorf("Create with cancelled context: error = %v, want context.Canceled", err)
			}
			assertCount(t, s, 0)
		})
		t.Run("an expired deadline is reported as unavailable", func(t *testing.T) {
			dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel()
			if err := s.Create(dctx, []*store.Prediction{storetest.Prediction(1, 1)}); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Create past deadline: error = %v, want ErrUnavailable", err)
			}
			assertCount(t, s, 0)
		})
	})
}

func TestListPagesNewestFirstWithoutImages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 23
		var all []*store.Prediction
		for i := range n {
			all = append(all, storetest.Prediction(i%10, byte(i)))
		}
		// Two batches, so ids come from more than one transaction.
		if err := s.Create(ctx, all[:10]); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(ctx, all[10:]); err != nil {
			t.Fatalf("Create: %v", err)
		}

		first, err := s.List(ctx, store.ListQuery{Limit: 5})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(first) != 5 || first[0].ID != all[n-1].ID {
			t.Fatalf("first page has %d rows starting at id %d, want 5 starting at newest id %d", len(first), idOf(first, 0), all[n-1].ID)
		}

		var seen []store.Prediction
		before := int64(0)
		for page := 0; ; page++ {
			if page > n {
				t.Fatal("paging did not end")
			}
			ps, err := s.List(ctx, store.ListQuery{BeforeID: before, Limit: 5})
			if err != nil {
				t.Fatalf("List(before=%d): %v", before, err)
			}
			if len(ps) > 5 {
				t.Fatalf("List(limit=5) returned %d rows", len(ps))
			}
			if len(ps) == 0 {
				break
			}
			seen = append(seen, ps...)
			before = ps[len(ps)-1].ID
		}
		if len(seen) != n {
			t.Fatalf("paging saw %d rows, want %d", len(seen), n)
		}
		for i, got := range seen {
			want := all[n-1-i] // newest first, no gaps or duplicates
			if got.Image != nil {
				t.Errorf("row %d: List loaded the image (%d bytes)", got.ID, len(got.Image))
			}
			got.Image = want.Image
			assertEqual(t, &got, want)
		}
	})
}

func TestListRefusesNonPositiveLimit(t *testing.T) {
	s, _ := storetest.Open(t, "sqlite")
	if _, err := s.List(context.Background(), store.ListQuery{}); err == nil {
		t.Error("List with limit 0 succeeded, want an error")
	}
}

func TestReopenKeepsRows(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s, url := storetest.Open(t, kind)
			if err := s.Create(ctx, []*store.Prediction{storetest.Prediction(4, 4)}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			for i := range 3 {
				again, err := store.Open(ctx, url, nil)
				if err != nil {
					t.Fatalf("reopen %d: %v", i+1, err)
				}
				if err := again.Create(ctx, []*store.Prediction{storetest.Prediction(5, byte(i))}); err != nil {
					t.Fatalf("Create after reopen %d: %v", i+1, err)
				}
				assertCount(t, again, int64(i+2))
				if err := again.Close(); err != nil {
					t.Fatalf("close after reopen %d: %v", i+1, err)
				}
			}
		})
	}
}

func TestConcurrentCreatesAllSucceed(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const writers, each = 32, 3
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		ids := make(chan int64, writers*each)
		for w := range writers {
			wg.Go(func() {
				ps := make([]*store.Prediction, each)
				for i := range ps {
					ps[i] = storetest.Prediction(w%10, byte(w))
				}
				if err := s.Create(ctx, ps); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				for _, p := range ps {
					ids <- p.ID
				}
			})
		}
		wg.Wait()
		close(errs)
		close(ids)
		for err := range errs {
			t.Error(err)
		}
		unique := map[int64]bool{}
		for id := range ids {
			if unique[id] {
				t.Errorf("id %d given to two rows", id)
			}
			unique[id] = true
		}
		assertCount(t, s, writers*each)
	})
}

func TestOpenUnreachablePostgresFailsFastAsUnavailable(t *testing.T) {
	start := time.Now()
	s, err := store.Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		s.Close()
		t.Fatal("Open on port 1 succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open error = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v, want a few seconds at most", d)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		s.Close()
		if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Ping after Close: error = %v, want ErrUnavailable", err)
		}
		if _, err := s.Count(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Count after Close: error = %v, want ErrUnavailable", err)
		}
	})
}

func assertEqual(t *testing.T, got, want *store.Prediction) {
	t.Helper()
	if got.ID != want.ID || !got.CreatedAt.Equal(want.CreatedAt) || got.Prediction != want.Prediction ||
		got.Confidence != want.Confidence || got.Probabilities != want.Probabilities || got.ModelVersion != want.ModelVersion {
		t.Errorf("read back\n %+v\nwant\n %+v", summary(got), summary(want))
	}
	if string(got.Image) != string(want.Image) {
		t.Errorf("row %d: image differs (%d bytes read, %d written)", want.ID, len(got.Image), len(want.Image))
	}
}

// summary drops the image so a failure message stays readable.
func summary(p *store.Prediction) store.Prediction {
	q := *p
	q.Image = nil
	return q
}

func assertCount(t *testing.T, s *store.Store, want int64) {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Errorf("Count = %d, want %d", n, want)
	}
}

func idOf(ps []store.Prediction, i int) int64 {
	if i < len(ps) {
		return ps[i].ID
	}
	return 0
}

func TestBadRowInAGroupFailsOnlyItsOwnCall(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const calls = 40
		batches := make([][]*store.Prediction, calls)
		errs := make([]error, calls)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range calls {
			batches[i] = []*store.Prediction{storetest.Prediction(i%10, byte(i)), storetest.Prediction((i+3)%10, byte(i))}
			if i%10 == 7 {
				batches[i][1].Prediction = 42 // the check constraint refuses it
			}
			wg.Go(func() {
				<-start
				errs[i] = s.Create(ctx, batches[i])
			})
		}
		close(start)
		wg.Wait()
		stored := 0
		for i, err := range errs {
			if bad := i%10 == 7; bad != (err != nil) {
				t.Errorf("call %d (bad row: %v): error %v", i, bad, err)
				continue
			}
			if err != nil {
				continue
			}
			for _, p := range batches[i] {
				if got, gerr := s.Get(ctx, p.ID); gerr != nil || got.ModelVersion != p.ModelVersion {
					t.Errorf("call %d: row %d reads back %+v, %v", i, p.ID, got, gerr)
				}
				stored++
			}
		}
		assertCount(t, s, int64(stored))
		if stored != 2*(calls-calls/10) {
			t.Errorf("%d rows stored, want %d", stored, 2*(calls-calls/10))
		}
	})
}

func TestCloseCommitsWhatWasHandedOver(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, url := storetest.Open(t, kind)
			ctx := context.Background()
			const calls = 50
			var wg sync.WaitGroup
			ids := make(chan int64, calls)
			for i := range calls {
				wg.Go(func() {
					p := storetest.Prediction(i%10, byte(i))
					switch err := s.Create(ctx, []*store.Prediction{p}); {
					case err == nil:
						ids <- p.ID
					case !errors.Is(err, store.ErrUnavailable):
						t.Errorf("Create during Close: %v, want success or ErrUnavailable", err)
					}
				})
			}
			time.Sleep(2 * time.Millisecond) // some calls before Close, some after
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			wg.Wait()
			close(ids)
			s2, err := store.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			n := 0
			for id := range ids {
				if _, err := s2.Get(ctx, id); err != nil {
					t.Errorf("id %d was reported stored but reads back: %v", id, err)
				}
				n++
			}
			assertCount(t, s2, int64(n))
		})
	}
}

func TestCreateOfMoreRowsThanOneInsertTakesReadsBackEachRowUnderItsOwnID(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		client := "key-a"
		want := make([]*store.Prediction, 1300) // three INSERTs in one transaction
		for i := range want {
			want[i] = storetest.Prediction(i%10, byte(i))
			want[i].ModelVersion = fmt.Sprintf("v-%d", i) // tells every row apart
			if i%2 == 1 {
				want[i].Client = &client
			}
		}
		if err := s.Create(ctx, want); err != nil {
			t.Fatalf("Create: %v", err)
		}
		assertCount(t, s, int64(len(want)))
		for i, w := range want {
			if i > 0 && w.ID <= want[i-1].ID {
				t.Fatalf("row %d has id %d after %d: want increasing ids in the order given", i, w.ID, want[i-1].ID)
			}
			if i%97 != 0 && i != len(want)-1 {
				continue // a sample, from every INSERT
			}
			got, err := s.Get(ctx, w.ID)
			if err != nil {
				t.Fatalf("Get(%d): %v", w.ID, err)
			}
			assertEqual(t, got, w)
			if (got.Client == nil) != (w.Client == nil) || (got.Client != nil && *got.Client != client) {
				t.Errorf("row %d: client %v, want %v", i, got.Client, w.Client)
			}
		}
	})
}

// TestAFileWrittenByTheEarlierSQLiteDriverReadsTheSame: a predictions.db
// written by the build before the driver change (glebarez/go-sqlite
// v1.21.2; testdata/predictions-glebarez-v1.21.2.db, three predictions of
// test images 0-2 at 2026-12-03 20:18:25 UTC) opens, migrates and reads as
// it was written, and rows added now sort and expire with the old ones:
// created_at is text in the same format.
func TestAFileWrittenByTheEarlierSQLiteDriverReadsTheSame(t *testing.T) {
	data, err := os.ReadFile("testdata/predictions-glebarez-v1.21.2.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old, err := st.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantAt := time.Date(2026, 12, 3, 20, 18, 25, 23425000, time.UTC)
	if !old.CreatedAt.Equal(wantAt) || old.Prediction != 7 || len(old.Image) != 784 || old.Probabilities[7] < 0.99 {
		t.Errorf("row 1 reads as %v, digit %d, %d pixels, p[7]=%v; want %v, 7, 784, above 0.99",
			old.CreatedAt, old.Prediction, len(old.Image), old.Probabilities[7], wantAt)
	}
	fresh := &store.Prediction{Image: old.Image, Prediction: 7, Confidence: 0.5, Probabilities: old.Probabilities, ModelVersion: "v-new"}
	if err := st.Create(ctx, []*store.Prediction{fresh}); err != nil {
		t.Fatal(err)
	}
	if fresh.ID != 4 {
		t.Errorf("the new row has id %d, want 4", fresh.ID)
	}
	// A cutoff between the old rows and the new one deletes exactly the
	// three old ones: the text of both formats compares as their times.
	n, err := st.DeleteBefore(ctx, wantAt.Add(time.Second), 100)
	if err != nil || n != 3 {
		t.Errorf("DeleteBefore removed %d rows (%v), want the 3 old ones", n, err)
	}
	if got, err := st.Get(ctx, 4); err != nil || got.ModelVersion != "v-new" {
		t.Errorf("the new row after the cutoff: %+v, %v", got, err)
	}
}
