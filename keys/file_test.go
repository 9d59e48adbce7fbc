package keys

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestConcurrentChangesToAKeysFileAreAllKept: adds and a revoke running at
// once (several `app keys` processes) each take the file in turn, so no
// key reported added is lost and a revoked key does not come back.
func TestConcurrentChangesToAKeysFileAreAllKept(t *testing.T) {
	for round := range 5 {
		f := File(filepath.Join(t.TempDir(), "keys.json"))
		ctx := context.Background()
		if err := f.Insert(ctx, Key{Name: "bob", Role: RoleAdmin, SHA256: fmt.Sprintf("%064d", 0), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 21)
		wg.Go(func() { errs <- f.Delete(ctx, "bob") })
		for i := range 20 {
			wg.Go(func() {
				errs <- f.Insert(ctx, Key{Name: fmt.Sprintf("c%d", i), Role: RolePredict, SHA256: fmt.Sprintf("%064d", i+1), CreatedAt: time.Now()})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		ks, _, err := f.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(ks))
		for _, k := range ks {
			names = append(names, k.Name)
		}
		if slices.Contains(names, "bob") || len(names) != 20 {
			t.Fatalf("round %d: the file holds %d keys %v; want the 20 added and not the revoked bob", round, len(names), names)
		}
	}
}
