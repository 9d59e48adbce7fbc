package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// transport makes a client of one protocol binding for srv; token, when
// set, travels as the binding carries tokens.
type transport struct {
	name   string
	client func(tb testing.TB, srv *serve.Server, token string) client
}

// transports are the bindings every test runs over.
func transports() []transport {
	return []transport{
		{"REST", func(tb testing.TB, srv *serve.Server, token string) client {
			return &restClient{tb: tb, srv: srv, token: token}
		}},
		{"gRPC", grpcClientFor},
	}
}

// everywhere runs fn for each transport on each database.
func everywhere(t *testing.T, fn func(t *testing.T, tr transport, st *store.Store)) {
	for _, tr := range transports() {
		t.Run("over "+tr.name, func(t *testing.T) {
			storetest.Backends(t, func(t *testing.T, st *store.Store) { fn(t, tr, st) })
		})
	}
}

// wantKind checks err is a protocol error of kind k whose message holds
// every one of words.
func wantKind(tb testing.TB, err error, k kind, words ...string) {
	tb.Helper()
	var pe *protoError
	if !errors.As(err, &pe) {
		tb.Fatalf("error %v, want %s", err, k)
	}
	if pe.Kind != k {
		tb.Errorf("error %q is %s, want %s", pe.Message, pe.Kind, k)
	}
	for _, w := range words {
		if !strings.Contains(pe.Message, w) {
			tb.Errorf("error %q does not say %q", pe.Message, w)
		}
	}
}

func TestHealthAndMetadata(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		if live, err := c.Live(); err != nil || !live {
			t.Errorf("server live: %v, %v; want true", live, err)
		}
		if ready, err := c.Ready(); err != nil || !ready {
			t.Errorf("server ready: %v, %v; want true", ready, err)
		}
		sm, err := c.ServerMetadata()
		if err != nil || sm.Name == "" || sm.Version != "test" || !slices.Contains(sm.Extensions, "binary_tensor_data") {
			t.Errorf("server metadata %+v, %v; want a name, version test and the binary_tensor_data extension", sm, err)
		}
		for _, version := range []string{"", servedVersion, olderVersion} {
			md, err := c.ModelMetadata("mnist", version)
			if err != nil {
				t.Fatalf("model metadata of version %q: %v", version, err)
			}
			want := modelMetadata{
				Name: "mnist", Versions: []string{servedVersion, olderVersion}, Platform: md.Platform,
				Inputs: []tensorMetadata{{"image", "FP32", []int64{-1, 1, 28, 28}}},
				Outputs: []tensorMetadata{
					{"probabilities", "FP32", []int64{-1, 10}},
					{"prediction", "INT64", []int64{-1}},
				},
			}
			if md.Platform == "" || fmt.Sprint(md) != fmt.Sprint(want) {
				t.Errorf("model metadata of version %q:\n %+v\nwant\n %+v", version, md, want)
			}
			if ready, err := c.ModelReady("mnist", version); err != nil || !ready {
				t.Errorf("model ready of version %q: %v, %v; want true", version, ready, err)
			}
		}
		for _, tc := range []struct{ name, version, words string }{
			{"other", "", `"other"`},
			{"mnist", "v9", `"v9"`},
		} {
			_, err := c.ModelMetadata(tc.name, tc.version)
			wantKind(t, err, notFound, tc.words)
			_, err = c.ModelReady(tc.name, tc.version)
			wantKind(t, err, notFound, tc.words)
			_, err = c.Infer(tc.name, tc.version, oneImage("UINT8", []int64{1, 784}, 3))
			wantKind(t, err, notFound, tc.words)
		}
	})
}

// values returns the elements of imgs as datatype: UINT8 as they are,
// FP32 scaled into 0..1.
func values(datatype string, imgs ...[]byte) []float64 {
	var out []float64
	for _, img := range imgs {
		for _, p := range img {
			v := float64(p)
			if datatype == "FP32" {
				v /= 255
			}
			out = append(out, v)
		}
	}
	return out
}

// oneImage is a request for one image whose digit is first.
func oneImage(datatype string, shape []int64, first byte) request {
	return request{Name: "image", Datatype: datatype, Shape: shape, Values: values(datatype, image(first))}
}

// withN returns shape with its first dimension set to n.
func withN(shape []int64, n int64) []int64 {
	return append([]int64{n}, shape[1:]...)
}

// checkStored reads back the rows res names and checks each holds its
// image, its digit, the version that answered, and client.
func checkStored(tb testing.TB, st *store.Store, res *response, imgs [][]byte, version string, client *string) {
	tb.Helper()
	ids := strings.Split(res.IDs, ",")
	if len(ids) != len(imgs) {
		tb.Fatalf("prediction_ids %q for %d images", res.IDs, len(imgs))
	}
	for i, s := range ids {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			tb.Fatalf("prediction_ids %q: %v", res.IDs, err)
		}
		row, err := st.Get(context.Background(), id)
		if err != nil {
			tb.Fatalf("stored row %d: %v", id, err)
		}
		want := int(imgs[i][0] % 10)
		if string(row.Image) != string(imgs[i]) || row.Prediction != want || row.ModelVersion != version ||
			fmt.Sprint(row.Client) != fmt.Sprint(client) && (row.Client == nil || client == nil || *row.Client != *client) {
			tb.Errorf("row %d: digit %d, version %s, client %v, image same %v; want %d, %s, %v, true",
				id, row.Prediction, row.ModelVersion, row.Client, string(row.Image) == string(imgs[i]), want, version, client)
		}
	}
}

// checkOutputs checks res answers digits for the images whose first
// pixels are firsts, with the outputs named.
func checkOutputs(tb testing.TB, res *response, firsts []byte, names []string, binary bool) {
	tb.Helper()
	if len(res.Outputs) != len(names) {
		tb.Fatalf("%d outputs, want %v", len(res.Outputs), names)
	}
	n := int64(len(firsts))
	for i, o := range res.Outputs {
		if o.Name != names[i] {
			tb.Errorf("output %d is %q, want %q", i, o.Name, names[i])
		}
		if o.Binary != binary {
			tb.Errorf("output %s binary %v, want %v", o.Name, o.Binary, binary)
		}
		switch o.Name {
		case "probabilities":
			if o.Datatype != "FP32" || fmt.Sprint(o.Shape) != fmt.Sprint([]int64{n, 10}) || len(o.FP32) != int(n)*10 {
				tb.Fatalf("probabilities %s %v with %d values, want FP32 [%d 10]", o.Datatype, o.Shape, len(o.FP32), n)
			}
			for k, f := range firsts {
				if p := o.FP32[k*10+int(f%10)]; p != 0.91 {
					tb.Errorf("image %d: probability of digit %d is %v, want 0.91", k, f%10, p)
				}
			}
		case "prediction":
			if o.Datatype != "INT64" || fmt.Sprint(o.Shape) != fmt.Sprint([]int64{n}) || len(o.INT64) != int(n) {
				tb.Fatalf("prediction %s %v with %d values, want INT64 [%d]", o.Datatype, o.Shape, len(o.INT64), n)
			}
			for k, f := range firsts {
				if o.INT64[k] != int64(f%10) {
					tb.Errorf("image %d: prediction %d, want %d", k, o.INT64[k], f%10)
				}
			}
		}
	}
}

func TestInferTakesEveryShapeDatatypeAndEncoding(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		firsts := []byte{3, 7, 250}
		imgs := [][]byte{image(firsts[0]), image(firsts[1]), image(firsts[2])}
		for _, shape := range [][]int64{{-1, 1, 28, 28}, {-1, 28, 28}, {-1, 784}} {
			for _, datatype := range []string{"FP32", "UINT8"} {
				for _, enc := range []string{"flat", "nested", "binary"} {
					for _, n := range []int{1, 3} {
						name := fmt.Sprintf("%d images of %s %v as %s data", n, datatype, withN(shape, int64(n)), enc)
						t.Run(name, func(t *testing.T) {
							req := request{ID: "42", Name: "image", Datatype: datatype, Shape: withN(shape, int64(n)),
								Values: values(datatype, imgs[:n]...), Nested: enc == "nested", Binary: enc == "binary"}
							res, err := c.Infer("mnist", "", req)
							if err != nil {
								t.Fatal(err)
							}
							if res.ModelName != "mnist" || res.ModelVersion != servedVersion || res.ID != "42" {
								t.Errorf("model %q version %q id %q, want mnist, %s, 42", res.ModelName, res.ModelVersion, res.ID, servedVersion)
							}
							checkOutputs(t, res, firsts[:n], []string{"probabilities", "prediction"}, false)
							checkStored(t, st, res, imgs[:n], servedVersion, nil)
						})
					}
				}
			}
		}
	})
}

func TestInferAnswersTheOutputsAskedFor(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		for _, tc := range []struct {
			name    string
			outputs []string
			want    []string
		}{
			{"none asked answers both", nil, []string{"probabilities", "prediction"}},
			{"one asked answers it alone", []string{"prediction"}, []string{"prediction"}},
			{"both asked answer in the order asked", []string{"prediction", "probabilities"}, []string{"prediction", "probabilities"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := oneImage("UINT8", []int64{1, 784}, 5)
				req.Outputs = tc.outputs
				res, err := c.Infer("mnist", "", req)
				if err != nil {
					t.Fatal(err)
				}
				if res.ID != "" {
					t.Errorf("id %q in the answer to a request without one", res.ID)
				}
				checkOutputs(t, res, []byte{5}, tc.want, false)
			})
		}
	})
}

func TestInferFromAnotherVersion(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		for _, version := range []string{olderVersion, servedVersion, olderVersion} {
			res, err := c.Infer("mnist", version, oneImage("FP32", []int64{1, 28, 28}, 9))
			if err != nil {
				t.Fatal(err)
			}
			if res.ModelVersion != version {
				t.Errorf("answered by version %q, want %q", res.ModelVersion, version)
			}
			checkStored(t, st, res, [][]byte{image(9)}, version, nil)
		}
	})
}

func TestBadInputsAreInvalidArgumentsNamingTheField(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		good := func() request { return oneImage("FP32", []int64{1, 784}, 1) }
		for _, tc := range []struct {
			name  string
			edit  func(r *request)
			words []string
		}{
			{"a datatype the model does not take", func(r *request) { r.Datatype = "INT64" }, []string{"datatype", "INT64"}},
			{"a BYTES input", func(r *request) { r.Datatype = "BYTES" }, []string{"datatype"}},
			{"a shape of 783 pixels", func(r *request) { r.Shape = []int64{1, 783}; r.Values = r.Values[:783] }, []string{"shape", "[1,783]"}},
			{"a shape without images", func(r *request) { r.Shape = []int64{0, 784}; r.Values = nil }, []string{"shape"}},
			{"a shape of 257 images", func(r *request) { r.Shape = []int64{257, 784} }, []string{"shape", "257"}},
			{"a shape of two channels", func(r *request) { r.Shape = []int64{1, 2, 28, 28} }, []string{"shape"}},
			{"a shape of one dimension", func(r *request) { r.Shape = []int64{784} }, []string{"shape"}},
			{"fewer values than the shape", func(r *request) { r.Values = r.Values[:700] }, []string{"700", "784"}},
			{"more values than the shape", func(r *request) { r.Values = append(r.Values, 0) }, []string{"784"}},
			{"fewer binary values than the shape", func(r *request) { r.Binary = true; r.Values = r.Values[:700] }, []string{"784"}},
			{"an FP32 value above 1", func(r *request) { r.Values[5] = 1.5 }, []string{"0..1"}},
			{"a negative FP32 value", func(r *request) { r.Values[5] = -0.5 }, []string{"0..1"}},
			{"a UINT8 value above 255", func(r *request) { r.Datatype = "UINT8"; r.Values = values("UINT8", image(1)); r.Values[3] = 256 }, []string{"0..255"}},
			{"an input with another name", func(r *request) { r.Name = "input0" }, []string{"name", "input0", "image"}},
			{"an input without data", func(r *request) { r.NoData = true }, []string{"data"}},
			{"an output the model does not have", func(r *request) { r.Outputs = []string{"output0"} }, []string{"outputs[0].name", "output0"}},
			{"an output asked for twice", func(r *request) { r.Outputs = []string{"prediction", "prediction"} }, []string{"outputs[1]", "twice"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := good()
				tc.edit(&req)
				_, err := c.Infer("mnist", "", req)
				wantKind(t, err, invalidArgument, tc.words...)
			})
		}
		if n := countRows(t, st); n != 0 {
			t.Errorf("%d rows stored for refused requests, want 0", n)
		}
	})
}

func TestAccessFollowsThePredictRoutesRules(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		srv := newServer(t, st, true)
		for _, tc := range []struct {
			name, token string
			want        kind
		}{
			{"no token is unauthenticated", "", unauthenticated},
			{"an unknown token is unauthenticated", "nobody", unauthenticated},
			{"a key whose role may not predict is denied", guestToken, permissionDenied},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tr.client(t, srv, tc.token).Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 2))
				wantKind(t, err, tc.want)
				_, err = tr.client(t, srv, tc.token).ModelMetadata("mnist", "")
				wantKind(t, err, tc.want)
			})
		}
		t.Run("probes need no token", func(t *testing.T) {
			c := tr.client(t, srv, "")
			if live, err := c.Live(); err != nil || !live {
				t.Errorf("live %v, %v", live, err)
			}
			if ready, err := c.Ready(); err != nil || !ready {
				t.Errorf("ready %v, %v", ready, err)
			}
		})
		t.Run("a predict key's rows are stored under its name", func(t *testing.T) {
			res, err := tr.client(t, srv, predictToken).Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 2))
			if err != nil {
				t.Fatal(err)
			}
			alice := "alice"
			checkStored(t, st, res, [][]byte{image(2)}, servedVersion, &alice)
		})
	})
}

func TestDatabaseAwayIsUnavailable(t *testing.T) {
	for _, tr := range transports() {
		t.Run("over "+tr.name, func(t *testing.T) {
			st, _ := storetest.Open(t, "sqlite")
			c := tr.client(t, newServer(t, st, false), "")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			_, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 2))
			wantKind(t, err, unavailable, "database")
			_, err = c.Ready()
			wantKind(t, err, unavailable, "database")
		})
	}
}

// countRows counts the stored predictions.
func countRows(tb testing.TB, st *store.Store) int {
	tb.Helper()
	rows, err := st.List(context.Background(), store.ListQuery{Limit: 500})
	if err != nil {
		tb.Fatal(err)
	}
	return len(rows)
}
