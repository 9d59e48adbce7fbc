package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// BenchmarkCreateGroup times one group commit of n rows, call after call,
// on each backend: the client's CPU (the statement, its arguments, the
// driver) plus the database's round trip and commit. With
// TEST_DATABASE_URL set it runs on PostgreSQL too:
//
//	go test -run '^$' -bench CreateGroup -benchmem ./store/
func BenchmarkCreateGroup(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, n := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/%d_rows", kind, n), func(b *testing.B) {
				s, _ := storetest.Open(b, kind)
				ctx := context.Background()
				rows := make([]*store.Prediction, n)
				for i := range rows {
					rows[i] = storetest.Prediction(i%10, byte(i))
				}
				for b.Loop() {
					for _, r := range rows {
						r.ID = 0
					}
					if err := s.Create(ctx, rows); err != nil {
						b.Fatalf("create: %v", err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
			})
		}
	}
}
