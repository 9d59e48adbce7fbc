package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// BenchmarkCreateWithAndWithoutKey measures Create of one row from 64
// concurrent callers (group-committed, as under load), without an
// Idempotency-Key and with a fresh one per call: the cost of the keyed
// INSERT (more columns, the unique index, ON CONFLICT). Run on PostgreSQL
// with TEST_DATABASE_URL, e.g.
//
//	go test -run '^$' -bench CreateWithAndWithoutKey -count 5 ./store/
func BenchmarkCreateWithAndWithoutKey(b *testing.B) {
	for _, kind := range []string{"postgres", "sqlite"} {
		for _, withKey := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/key=%v", kind, withKey), func(b *testing.B) {
				s, _ := storetest.Open(b, kind)
				var n atomic.Int64
				b.SetParallelism(32) // x GOMAXPROCS goroutines: 64 on 2 cores
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						i := n.Add(1)
						row := storetest.Prediction(int(i%10), byte(i))
						if withKey {
							pos := 0
							row.IdemKeyHash, row.IdemRequest, row.IdemPosition = store.KeyHash("addr:127.0.0.1", fmt.Sprintf("k-%d", i)), []byte("h"), &pos
						}
						if err := s.Create(ctx, []*store.Prediction{row}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
