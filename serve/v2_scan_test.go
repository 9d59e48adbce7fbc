package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/oip"
)

// v2Nested writes img as UINT8 data nested as [1,28,28].
func v2Nested(tb testing.TB, img []byte) string {
	tb.Helper()
	return "[" + string(mustJSON(tb, rows(img))) + "]"
}

// v2FP32 writes img as FP32 data, flat, each pixel divided by 255.
func v2FP32(img []byte) string {
	vals := make([]string, len(img))
	for i, p := range img {
		vals[i] = strconv.FormatFloat(float64(float32(float64(p)/255)), 'f', -1, 64)
	}
	return "[" + strings.Join(vals, ", ") + "]"
}

func TestV2ScannerTakesPlainBodiesAndReadsThemAsTheGeneralDecoder(t *testing.T) {
	img := digitImage(3)
	plain := string(v2Body(img))
	flatData := string(mustJSON(t, flat(img)))
	input := func(fields string) string { return `{"inputs":[{` + fields + `}]}` }
	image := `"name":"image","datatype":"UINT8","shape":[1,784],"data":` + flatData
	spaced := strings.NewReplacer(",", " ,\n\t", "[", "[ ", "]", "\r ]", ":", " : ", "{", "{ ", "}", " }").Replace(input(image))
	for _, tc := range []struct {
		name string
		body string
		take bool // the scanner must take it
	}{
		{"the body scripts/load-oip.sh sends", plain, true},
		{"compact JSON", input(image), true},
		{"JSON whitespace everywhere", " \n" + spaced + "\t\r\n", true},
		{"data nested as [1,28,28]", input(`"name":"image","datatype":"UINT8","shape":[1,28,28],"data":` + v2Nested(t, img)), true},
		{"data nested as [1,1,28,28]", input(`"name":"image","datatype":"UINT8","shape":[1,1,28,28],"data":[` + v2Nested(t, img) + `]`), true},
		{"FP32 data", input(`"name":"image","datatype":"FP32","shape":[1,784],"data":` + v2FP32(img)), true},
		{"data before the name", input(`"data":` + flatData + `,"shape":[1,784],"datatype":"UINT8","name":"image"`), true},
		{"an id, outputs and parameters", `{"id":"req-1","parameters":{"binary_data_output":false,"priority":3,"note":"x","t":null},"inputs":[{` + image +
			`,"parameters":{"k":1.5e3}}],"outputs":[{"name":"prediction","parameters":{"binary_data":true}},{"name":"probabilities"}]}`, true},
		{"binary_data_output true", `{"parameters":{"binary_data_output":true},"inputs":[{` + image + `}]}`, true},
		{"an empty outputs list", `{"inputs":[{` + image + `}],"outputs":[]}`, true},
		{"empty parameters", `{"parameters":{},"inputs":[{` + image + `,"parameters":{}}]}`, true},
		{"an empty shape, refused by oip", input(`"name":"image","datatype":"UINT8","shape":[],"data":` + flatData), true},
		{"a negative shape, refused by oip", input(`"name":"image","datatype":"UINT8","shape":[-1,784],"data":` + flatData), true},
		{"empty data, refused by oip", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[]`), true},
		{"a wrong name and datatype, refused by oip", input(`"name":"img","datatype":"INT8","shape":[1,784],"data":[1]`), true},
		{"data of fractions and exponents for oip to read", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[7.0,7e0,-0,0.5E1]`), true},

		{"no inputs", `{"id":"1"}`, false},
		{"two inputs", `{"inputs":[{` + image + `},{` + image + `}]}`, false},
		{"no input at all", `{"inputs":[]}`, false},
		{"an input without data", input(`"name":"image","datatype":"UINT8","shape":[1,784]`), false},
		{"data that is null", input(image + `,"data":null`), false},
		{"data that is a number", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":5`), false},
		{"data holding a string", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":["0",1]`), false},
		{"data holding null", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[null]`), false},
		{"data nested five deep", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[[[[[1]]]]]`), false},
		{"a key twice", `{"id":"a","id":"b","inputs":[{` + image + `}]}`, false},
		{"an input key twice", input(image + `,"name":"image"`), false},
		{"a key in capitals, which encoding/json matches", `{"Inputs":[{` + image + `}]}`, false},
		{"an unknown key", `{"model_name":"mnist","inputs":[{` + image + `}]}`, false},
		{"an escaped key", input(strings.Replace(image, `"name"`, `"n\u0061me"`, 1)), false},
		{"an escape in a string", `{"id":"a\"b","inputs":[{` + image + `}]}`, false},
		{"a string beyond ASCII", `{"id":"é","inputs":[{` + image + `}]}`, false},
		{"an id that is a number", `{"id":42,"inputs":[{` + image + `}]}`, false},
		{"an id that is null", `{"id":null,"inputs":[{` + image + `}]}`, false},
		{"a shape of fractions", input(`"name":"image","datatype":"UINT8","shape":[1.0,784],"data":[1]`), false},
		{"a shape with an exponent", input(`"name":"image","datatype":"UINT8","shape":[1e0,784],"data":[1]`), false},
		{"a shape of strings", input(`"name":"image","datatype":"UINT8","shape":["1"],"data":[1]`), false},
		{"a shape of 19 digits", input(`"name":"image","datatype":"UINT8","shape":[1000000000000000000],"data":[1]`), false},
		{"binary_data_size in a body of JSON", input(image + `,"parameters":{"binary_data_size":0}`), false},
		{"binary_data that is a string", `{"inputs":[{` + image + `}],"outputs":[{"name":"prediction","parameters":{"binary_data":"yes"}}]}`, false},
		{"binary_data that is null", `{"inputs":[{` + image + `}],"outputs":[{"name":"prediction","parameters":{"binary_data":null}}]}`, false},
		{"binary_data twice", `{"inputs":[{` + image + `}],"outputs":[{"name":"prediction","parameters":{"binary_data":true,"binary_data":false}}]}`, false},
		{"a parameter that is an object", `{"parameters":{"a":{}},"inputs":[{` + image + `}]}`, false},
		{"an output without a name", `{"inputs":[{` + image + `}],"outputs":[{}]}`, false},
		{"an output that is null", `{"inputs":[{` + image + `}],"outputs":[null]}`, false},
		{"a trailing comma in data", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[1,]`), false},
		{"a leading zero in data", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[01]`), false},
		{"a missing comma in data", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[1 2]`), false},
		{"a trailing comma in the object", `{"inputs":[{` + image + `}],}`, false},
		{"text after the object", input(image) + "x", false},
		{"a second object", input(image) + input(image), false},
		{"no closing brace", strings.TrimSuffix(input(image), "}"), false},
		{"an array", `[` + input(image) + `]`, false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanV2([]byte(tc.body), nil)
			if ok != tc.take {
				t.Fatalf("scanner ok = %v, want %v", ok, tc.take)
			}
			if ok {
				if problem := readAsGeneral([]byte(tc.body), got); problem != "" {
					t.Error(problem)
				}
			}
		})
	}
}

func TestV2ScannedImagesAreTheImagesSent(t *testing.T) {
	img := digitImage(8)
	for _, tc := range []struct{ name, body string }{
		{"UINT8 flat", string(v2Body(img))},
		{"UINT8 nested", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,28,28],"data":` + v2Nested(t, img) + `}]}`},
		{"FP32 flat", `{"inputs":[{"name":"image","datatype":"FP32","shape":[1,784],"data":` + v2FP32(img) + `}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, ok := scanV2([]byte(tc.body), nil)
			if !ok {
				t.Fatal("scanner refused the body")
			}
			if !bytes.Equal(req.Inputs[0].Pixels, img) {
				t.Errorf("scanner read pixels %v, want %v", req.Inputs[0].Pixels, img)
			}
			s := newServer(t, &memStore{}, &fakeModel{version: "v1"})
			res, err := s.oip.Infer(t.Context(), nil, oip.ModelName, "", req)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Results[0].Prediction; got != 8 {
				t.Errorf("prediction %d, want 8 (the fake model reads the bright row)", got)
			}
		})
	}
}

// v2Seeds are small bodies covering every field the scanner reads, for
// the mutation tests to break: short data keeps the envelope most of the
// bytes, and oip, not the decoders, counts the values.
var v2Seeds = []string{
	`{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":[0,255,7]}]}`,
	`{"id":"a","inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],"data":[[0.5,1],[0,0.25e-1]]}]}`,
	`{"parameters":{"binary_data_output":true,"n":-1.5E+2},"inputs":[{"data":[[[[1]]]],"shape":[-1,1,28,28],"datatype":"UINT8","name":"image","parameters":{"s":"x","b":false}}],"outputs":[{"name":"prediction","parameters":{"binary_data":false}},{"name":"probabilities"}]}`,
	` { "inputs" : [ { "name" : "image" , "datatype" : "UINT8" , "shape" : [ ] , "data" : [ ] } ] , "outputs" : [ ] } `,
	`null`, // encoding/json takes it for an empty request
}

// mutate returns body with one random edit: a byte replaced by, or a byte
// inserted from, the characters that matter to JSON, a byte or a span
// deleted, or the body cut short.
func mutate(r *rand.Rand, body string) string {
	const alphabet = "{}[]:,\"\\ \t0123456789.-+eEtrufalsn\x00\x7f\xc3\xa9"
	i := r.IntN(len(body) + 1)
	c := string(alphabet[r.IntN(len(alphabet))])
	switch r.IntN(5) {
	case 0:
		if i < len(body) {
			return body[:i] + c + body[i+1:]
		}
	case 1:
		return body[:i] + c + body[i:]
	case 2:
		if i < len(body) {
			return body[:i] + body[i+1:]
		}
	case 3:
		j := min(len(body), i+1+r.IntN(8))
		return body[:i] + body[j:]
	}
	return body[:i]
}

func TestV2DecodersAnswerMangledBodiesAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2))
	taken, refused, read := 0, 0, 0
	for _, seed := range v2Seeds {
		for range 5000 {
			body := seed
			for range 1 + r.IntN(2) {
				body = mutate(r, body)
			}
			_, gotErr := decodeV2([]byte(body), "")
			_, wantErr := preciseV2([]byte(body), "")
			switch {
			case (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error():
				t.Fatalf("body %q: error %v, the general decoder's %v", body, gotErr, wantErr)
			case gotErr != nil && !isBadRequest(gotErr):
				t.Fatalf("body %q: error %v, want a 400", body, gotErr)
			}
			req, ok := scanV2([]byte(body), nil)
			if !ok {
				refused++
				continue
			}
			taken++
			if req.Inputs[0].Pixels != nil {
				read++
			}
			if problem := readAsGeneral([]byte(body), req); problem != "" {
				t.Fatalf("body %q: %s", body, problem)
			}
		}
	}
	// Both paths must have been exercised for the comparison to mean much.
	if taken < 1000 || refused < 1000 || read < 500 {
		t.Errorf("scanner took %d mangled bodies (read the pixels of %d) and refused %d, want at least 1000, 500 and 1000", taken, read, refused)
	}
	t.Logf("scanner took %d mangled bodies (read the pixels of %d) and refused %d", taken, read, refused)
}

// readAsGeneral says how got, the scanner's reading of body, differs from
// the general decoder's ("" when it does not): the same request, except
// that the scanner may have read the data's pixels too, which must then be
// the pixels oip reads from it.
func readAsGeneral(body []byte, got *oip.InferRequest) string {
	want, err := preciseV2(body, "")
	if err != nil {
		return fmt.Sprintf("the scanner took a body the general decoder refuses: %v", err)
	}
	plain := *got
	plain.Inputs = slices.Clone(got.Inputs)
	for i, in := range plain.Inputs {
		if in.Pixels == nil {
			continue
		}
		if px, ok := dataPixels(in.JSON, in.Datatype); !ok || !bytes.Equal(px, in.Pixels) {
			return fmt.Sprintf("the scanner read pixels %v from data %q, oip reads %v (ok %v)", in.Pixels, in.JSON, px, ok)
		}
		plain.Inputs[i].Pixels = nil
	}
	if !reflect.DeepEqual(&plain, want) {
		return fmt.Sprintf("the scanner read\n%s\nthe general decoder\n%s", reqString(got), reqString(want))
	}
	return ""
}

// dataPixels reads JSON data as encoding/json does, each number by
// oip.Pixel, in order: the pixels a scanner must read from it.
func dataPixels(data []byte, datatype string) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	px := []byte{}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case []any:
			return !slices.ContainsFunc(v, func(e any) bool { return !walk(e) })
		case json.Number:
			p, ok := oip.Pixel([]byte(v), datatype)
			px = append(px, p)
			return ok
		}
		return false
	}
	return px, walk(v)
}

// reqString shows a request for a failure message, its data as text.
func reqString(r *oip.InferRequest) string {
	if r == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id %q binary_data_output %v outputs %+v inputs [", r.ID, r.BinaryAll, r.Outputs)
	for _, in := range r.Inputs {
		fmt.Fprintf(&b, "{%s data %q pixels %v has %v}", in.String(), in.JSON, in.Pixels, in.HasData)
	}
	return b.String() + "]"
}

// isBadRequest reports whether err is a decoder's error, answered 400.
func isBadRequest(err error) bool { return errors.Is(err, errInvalid) }

// FuzzV2ScannerReadsAsTheGeneralDecoder checks, on any body, that a body
// the scanner takes is read to the same request by the general decoder,
// and that decodeV2 answers any body with a request or a 400.
func FuzzV2ScannerReadsAsTheGeneralDecoder(f *testing.F) {
	for _, seed := range v2Seeds {
		f.Add([]byte(seed))
	}
	f.Add(v2Body(digitImage(2)))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeV2(body, "")
		if err != nil && !isBadRequest(err) {
			t.Fatalf("error %v, want a 400", err)
		}
		if got, ok := scanV2(body, nil); ok {
			if problem := readAsGeneral(body, got); problem != "" || !reflect.DeepEqual(req, got) {
				t.Fatalf("body %q: %s (decodeV2 read %s)", body, problem, reqString(req))
			}
		}
	})
}

func TestV2HostileBodiesAreRefusedWith400InBoundedMemory(t *testing.T) {
	const size, budget = 1 << 20, 20 << 20 // as TestHostileBodiesAreRefusedWith400InBoundedMemory
	input := `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":`
	fill := func(prefix, unit, suffix string) string {
		return prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix
	}
	for _, tc := range []struct{ name, body, words string }{
		{"a megabyte of opening brackets in data", fill(input, "[", ""), "nests arrays and objects 9 deep"},
		{"balanced nesting in data", input + strings.Repeat("[", size/4) + strings.Repeat("]", size/4) + "}]}", "nests arrays and objects 9 deep"},
		{"nested objects in parameters", fill(`{"parameters":`, `{"a":`, ""), "nests arrays and objects 9 deep"},
		{"data nested one level too deep for the shape", input + "[[[[[[1]]]]]]}]}", "nests arrays and objects 9 deep"},
		{"a flat array of half a million values", fill(input+"[", "1,", "1]}]}"), "inputs[0].data has more than 784 values"},
		{"a list of empty arrays", fill(input+"[", "[],", "[]]}]}"), "inputs[0].data has 0 values, want 784"},
		{"one long number", fill(input+"[", "1", "]}]}"), "inputs[0].data[0] is 11111111111111111111..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, &memStore{}, &fakeModel{version: "v1"})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rec := do(t, s, http.MethodPost, "/v2/models/mnist/infer", "application/json", []byte(tc.body))
			runtime.ReadMemStats(&after)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.words) {
				t.Errorf("status %d %.200s, want 400 saying %q", rec.Code, rec.Body, tc.words)
			}
			if used := after.TotalAlloc - before.TotalAlloc; used > budget {
				t.Errorf("the request allocated %d MB, want at most %d", used>>20, budget>>20)
			}
		})
	}
}

// BenchmarkV2Decode measures decodeV2 on the body scripts/load-oip.sh
// sends, through the scanner and through the general decoder.
//
//	go test -run '^$' -bench V2Decode -benchmem ./serve/
func BenchmarkV2Decode(b *testing.B) {
	body := v2Body(digitImage(4))
	for _, d := range []struct {
		name   string
		decode func([]byte, string) (*oip.InferRequest, error)
	}{{"scanner", decodeV2}, {"general", preciseV2}} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.decode(body, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The scanner reads the binary tensor data extension's plain body too: a
// JSON header whose one input claims all the binary data after it. What it
// takes must be read to the same request by the general decoder; the rest
// it leaves to the general decoder, which words the errors.
func TestV2ScannerTakesPlainBinaryBodiesAsTheGeneralDecoder(t *testing.T) {
	raw := digitImage(5)[:]
	input := func(params string) string {
		return `{"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{` + params + `}}`
	}
	size := `"binary_data_size":784`
	for _, tc := range []struct {
		name   string
		header string
		bin    []byte
		take   bool
	}{
		{"the body scripts/load-oip.sh sends", `{"inputs":[` + input(size) + `]}`, raw, true},
		{"an id, outputs in binary and other parameters", `{"id":"r-7","parameters":{"binary_data_output":true},"inputs":[` + input(`"note":"x",`+size+`,"k":1.5`) +
			`],"outputs":[{"name":"prediction","parameters":{"binary_data":true}},{"name":"probabilities"}]}`, raw, true},
		{"whitespace", " {\n\"inputs\" : [ " + input(" "+size+" ") + " ] }\t", raw, true},
		{"a size of 0 and no data, refused by oip", `{"inputs":[` + input(`"binary_data_size":0`) + `]}`, []byte{}, true},
		{"FP32 data", `{"inputs":[{"name":"image","datatype":"FP32","shape":[1,784],"parameters":{"binary_data_size":3136}}]}`, make([]byte, 3136), true},

		{"a size under the data's", `{"inputs":[` + input(`"binary_data_size":700`) + `]}`, raw, false},
		{"a size over the data's", `{"inputs":[` + input(`"binary_data_size":800`) + `]}`, raw, false},
		{"no size", `{"inputs":[` + input(`"k":1`) + `]}`, raw, false},
		{"no parameters", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784]}]}`, raw, false},
		{"data in the JSON as well", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":[1],"parameters":{` + size + `}}]}`, raw, false},
		{"a size that is a string", `{"inputs":[` + input(`"binary_data_size":"784"`) + `]}`, raw, false},
		{"a negative size", `{"inputs":[` + input(`"binary_data_size":-784`) + `]}`, raw, false},
		{"a size with a fraction", `{"inputs":[` + input(`"binary_data_size":784.0`) + `]}`, raw, false},
		{"a size with a leading zero", `{"inputs":[` + input(`"binary_data_size":0784`) + `]}`, raw, false},
		{"the size twice", `{"inputs":[` + input(size+`,`+size) + `]}`, raw, false},
		{"two inputs", `{"inputs":[` + input(size) + `,` + input(size) + `]}`, raw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := append([]byte(tc.header), tc.bin...)
			hlen := strconv.Itoa(len(tc.header))
			got, ok := scanV2(body[:len(tc.header)], body[len(tc.header):])
			if ok != tc.take {
				t.Fatalf("scanner ok = %v, want %v", ok, tc.take)
			}
			want, err := preciseV2(body, hlen)
			viaDecode, decodeErr := decodeV2(body, hlen)
			if !reflect.DeepEqual(viaDecode, want) || (decodeErr == nil) != (err == nil) {
				t.Fatalf("decodeV2 read %s (%v), the general decoder %s (%v)", reqString(viaDecode), decodeErr, reqString(want), err)
			}
			if !ok {
				return
			}
			if err != nil {
				t.Fatalf("the scanner took a body the general decoder refuses: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("the scanner read\n%s\nthe general decoder\n%s", reqString(got), reqString(want))
			}
			if !bytes.Equal(got.Inputs[0].Raw, tc.bin) {
				t.Fatalf("the input's data is %d bytes, want the %d after the header", len(got.Inputs[0].Raw), len(tc.bin))
			}
		})
	}
}

// FuzzV2BinaryBodiesReadAsTheGeneralDecoder checks, on any JSON header and
// binary data, that decodeV2 (the scanner when it takes the body) reads
// what the general decoder reads, and answers anything else with a 400.
func FuzzV2BinaryBodiesReadAsTheGeneralDecoder(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{"binary_data_size":784}}]}`), make([]byte, 784))
	f.Add([]byte(`{"id":"a","inputs":[{"name":"image","datatype":"FP32","shape":[1,1],"parameters":{"binary_data_size":4}}],"outputs":[{"name":"prediction","parameters":{"binary_data":true}}]}`), []byte{0, 0, 128, 63})
	f.Add([]byte(` null `), make([]byte, 784))
	f.Fuzz(func(t *testing.T, header, bin []byte) {
		if len(header) == 0 {
			return
		}
		body := append(slices.Clip(header), bin...)
		hlen := strconv.Itoa(len(header))
		got, err := decodeV2(body, hlen)
		want, wantErr := preciseV2(body, hlen)
		if err != nil && !isBadRequest(err) {
			t.Fatalf("error %v, want a 400", err)
		}
		if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("header %q, %d bytes: decodeV2 read %s (%v), the general decoder %s (%v)", header, len(bin), reqString(got), err, reqString(want), wantErr)
		}
	})
}
