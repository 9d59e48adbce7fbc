package registry

import (
	"errors"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

func TestCopyCarriesModelsAndThePinOverAndBack(t *testing.T) {
	backends(t, func(t *testing.T, k kit) {
		c := ctx(t)
		src := New(NewFolder(t.TempDir()), nil)
		old := saveAt(t, src, 1, time.Now().Add(-time.Hour))
		newest := saveAt(t, src, 2, time.Now())
		if _, err := src.Promote(c, old); err != nil {
			t.Fatal(err)
		}
		dst := New(k.open(t), nil)
		got, err := Copy(c, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Copied) != 2 || got.Pinned != old {
			t.Fatalf("Copy = %+v, want 2 models copied and %s pinned", got, old)
		}
		if v, pinned, err := dst.Served(c); err != nil || v != old || !pinned {
			t.Errorf("the copy serves %s (pinned %v, %v), want %s pinned, as the source", v, pinned, err, old)
		}
		_, a, _ := src.Load(c, newest)
		_, b, err := dst.Load(c, newest)
		if err != nil || a.WeightsSHA256 != b.WeightsSHA256 || !a.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("copied %s: %+v, %v; want the source's metadata %+v", newest, b, err, a)
		}
		again, err := Copy(c, src, dst)
		if err != nil || len(again.Copied) != 0 || len(again.Present) != 2 {
			t.Errorf("a second Copy = %+v, %v; want nothing copied, 2 present", again, err)
		}
		back := New(NewFolder(t.TempDir()), nil)
		if got, err := Copy(c, dst, back); err != nil || len(got.Copied) != 2 {
			t.Errorf("copying back = %+v, %v; want 2 models", got, err)
		}
		// A version the destination holds with other weights is not overwritten.
		clash := New(k.open(t), nil)
		if _, err := Copy(c, New(NewFolder(t.TempDir()), nil), clash); err != nil {
			t.Fatal(err)
		}
		other := New(NewFolder(t.TempDir()), nil)
		if _, err := other.Save(c, model.NewWeights(9), model.Meta{Version: newest}); err != nil {
			t.Fatal(err)
		}
		if _, err := Copy(c, other, clash); !errors.Is(err, model.ErrVersionTaken) {
			t.Errorf("copying another model of version %s onto it: %v, want ErrVersionTaken", newest, err)
		}
	})
}
