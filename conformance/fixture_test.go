package conformance

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
)

// digitModel answers digit img[0] % 10 for each image with probability
// 0.91 (0.01 for every other digit), so a test chooses the answer through
// the first pixel and can tell which stored row is which image.
type digitModel struct{ version string }

func (m *digitModel) Predict(_ context.Context, images [][]byte) ([][model.Classes]float32, error) {
	out := make([][model.Classes]float32, len(images))
	for i, img := range images {
		if len(img) != 784 {
			return nil, fmt.Errorf("image %d has %d pixels", i, len(img))
		}
		for d := range out[i] {
			out[i][d] = 0.01
		}
		out[i][img[0]%10] = 0.91
	}
	return out, nil
}

func (m *digitModel) Meta() model.Meta { return model.Meta{Version: m.version} }

// The served version and another valid one a client may name.
const (
	servedVersion = "v2"
	olderVersion  = "v1"
)

// folder is the model folder behind the server: two valid versions.
type folder struct{}

func (folder) Models() ([]model.Meta, string, error) {
	return []model.Meta{{Version: servedVersion}, {Version: olderVersion}}, "", nil
}
func (folder) Promote(string) error      { return errors.New("not in this test") }
func (folder) Rollback() (string, error) { return "", errors.New("not in this test") }
func (folder) LoadVersion(_ context.Context, v string) (serve.Model, error) {
	if v == olderVersion {
		return &digitModel{version: v}, nil
	}
	return nil, fmt.Errorf("%w: %q", model.ErrUnknownVersion, v)
}

// keyring holds a predict key, an admin key and nothing else.
type keyring map[string]keys.Key

func (k keyring) Lookup(token string) (keys.Key, bool) {
	key, ok := k[token]
	return key, ok
}

// Tokens of the keyring of newServer's servers with keys.
const (
	predictToken = "predict-token"
	adminToken   = "admin-token"
	guestToken   = "guest-token" // a key of a role that may not predict
)

// newServer returns a server storing into st with the digit model served;
// withKeys turns token checks on.
func newServer(tb testing.TB, st *store.Store, withKeys bool) *serve.Server {
	tb.Helper()
	cfg := serve.Config{Version: "test"}
	if withKeys {
		cfg.Keys = keyring{
			predictToken: {Name: "alice", Role: keys.RolePredict},
			adminToken:   {Name: "root", Role: keys.RoleAdmin},
			guestToken:   {Name: "guest", Role: keys.Role("viewer")},
		}
	}
	s := serve.New(cfg, st, nil)
	tb.Cleanup(s.Close)
	s.SetModel(&digitModel{version: servedVersion})
	s.SetCatalog(folder{})
	s.SetVersions(folder{})
	return s
}

// image returns a 784-pixel image whose first pixel is first, the rest a
// pattern that survives the FP32 round trip (multiples of 1/255).
func image(first byte) []byte {
	img := make([]byte, 784)
	for i := range img {
		img[i] = byte(i * 7)
	}
	img[0] = first
	return img
}
