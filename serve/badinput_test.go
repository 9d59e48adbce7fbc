package serve

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// imageBody returns {"image": <raw>}.
func imageBody(raw string) []byte { return []byte(`{"image": ` + raw + `}`) }

// nRows returns n rows of 28 zeros as a JSON array.
func nRows(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = flatOf(side)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// rowsWith returns a valid 28x28 image as JSON text with row r replaced.
func rowsWith(r int, row string) string {
	parts := make([]string, side)
	for i := range parts {
		parts[i] = flatOf(side)
	}
	if r >= 0 {
		parts[r] = row
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// rowWithValue returns a row of 28 zeros whose column c is v.
func rowWithValue(c int, v string) string {
	vals := make([]string, side)
	for i := range vals {
		vals[i] = "0"
	}
	vals[c] = v
	return "[" + strings.Join(vals, ",") + "]"
}

// flatOf returns n zeros as a JSON array.
func flatOf(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]"
}

// hugePNG is a valid PNG signature and header claiming 50000x50000 pixels,
// followed by a token of data: a decoder that trusted it would allocate 2.5 GB.
func hugePNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 50000)
	binary.BigEndian.PutUint32(ihdr[4:], 50000)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// blankPNG is a plain white 40x40 PNG: an image, but no digit.
func blankPNG() []byte {
	g := image.NewGray(image.Rect(0, 0, 40, 40))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		panic(err) // an in-memory gray image always encodes
	}
	return buf.Bytes()
}

// badCase is one request that must be refused with a 4xx.
type badCase struct {
	name        string
	path        string
	contentType string
	body        []byte
	status      int
	wantMsg     string // a part of the error message, when it matters
}

func badCases() []badCase {
	const j = "application/json"
	deep := "[" + strings.TrimSuffix(strings.Repeat(rowsWith(-1, "")+",", side), ",") + "]"
	batchOf := func(n int) []byte {
		imgs := make([]string, n)
		for i := range imgs {
			imgs[i] = flatOf(pixels)
		}
		return []byte(`{"images": [` + strings.Join(imgs, ",") + `]}`)
	}
	form, formType := multipartImage("image", []byte("GIF89a not really"))
	return []badCase{
		{"a body that is not JSON", "/predict", j, []byte("hello"), 400, "body is not valid JSON"},
		{"truncated JSON", "/predict", j, []byte(`{"image": [[0,0`), 400, "body is not valid JSON"},
		{"an empty body", "/predict", j, nil, 400, "body is empty"},
		{"a JSON array at top level", "/predict", j, []byte(flatOf(pixels)), 400, "body is an array, want a JSON object"},
		{"JSON null at top level", "/predict", j, []byte("null"), 400, "body is null"},
		{"a JSON string at top level", "/predict", j, []byte(`"abc"`), 400, "body is a string"},
		{"no image field", "/predict", j, []byte(`{"img": []}`), 400, `missing field "image"`},
		{"image null", "/predict", j, imageBody("null"), 400, "image is null"},
		{"image a string", "/predict", j, imageBody(`"0,0,0"`), 400, "image is a string"},
		{"image a number", "/predict", j, imageBody("7"), 400, "image is a number"},
		{"image an empty array", "/predict", j, imageBody("[]"), 400, "image is an empty array"},
		{"27 rows", "/predict", j, imageBody(nRows(27)), 400, "image has 27 rows, want 28"},
		{"29 rows", "/predict", j, imageBody(nRows(29)), 400, "image has 29 rows, want 28"},
		{"a row of 29", "/predict", j, imageBody(rowsWith(3, flatOf(29))), 400, "row 3 has 29 values, want 28"},
		{"a row that is a number", "/predict", j, imageBody(rowsWith(4, "5")), 400, "row 4 is 5, want an array"},
		{"783 flat values", "/predict", j, imageBody(flatOf(783)), 400, "flat image has 783 values, want 784"},
		{"785 flat values", "/predict", j, imageBody(flatOf(785)), 400, "flat image has 785 values, want 784"},
		{"value -1", "/predict", j, imageBody(rowsWith(2, rowWithValue(5, "-1"))), 400, "pixel at row 2, column 5 is -1, want an integer 0..255"},
		{"value 256", "/predict", j, imageBody(rowsWith(2, rowWithValue(5, "256"))), 400, "pixel at row 2, column 5 is 256, want an integer 0..255"},
		{"value 0.5", "/predict", j, imageBody(rowsWith(0, rowWithValue(1, "0.5"))), 400, "is 0.5, want an integer"},
		{`value "12"`, "/predict", j, imageBody(rowsWith(0, rowWithValue(1, `"12"`))), 400, `is "12" (a string)`},
		{"value true", "/predict", j, imageBody(rowsWith(0, rowWithValue(1, "true"))), 400, "is true (a boolean)"},
		{"value null", "/predict", j, imageBody(rowsWith(0, rowWithValue(1, "null"))), 400, "is null"},
		{"value 1e400", "/predict", j, imageBody(rowsWith(0, rowWithValue(1, "1e400"))), 400, "want an integer 0..255"},
		{"flat value 256", "/predict", j, imageBody(strings.Replace(flatOf(pixels), "0]", "256]", 1)), 400, "pixel 783 is 256"},
		{"nesting one level too deep", "/predict", j, imageBody(deep), 400, "pixel at row 0, column 0 is an array"},
		{"a 3 MiB body", "/predict", j, imageBody(flatOf(3 << 19)), 413, "larger than the limit of 1 MiB"},
		{"a Content-Type the server does not take", "/predict", "application/xml", []byte("<image/>"), 415, "Content-Type application/xml is not supported"},
		{"a form-urlencoded body, as curl -d sends", "/predict", "application/x-www-form-urlencoded", imageBody(flatOf(pixels)), 415, "curl"},
		{"a malformed Content-Type", "/predict", "image/", []byte("x"), 415, "not a valid media type"},
		{"bytes labelled image/png that are not a PNG", "/predict", "image/png", []byte("not a png at all"), 400, "body: not a PNG or JPEG image"},
		{"a PNG header claiming 50000x50000 pixels", "/predict", "image/png", hugePNG(), 413, "body: image too large: 50000x50000"},
		{"a PNG with no digit in it", "/predict", "image/png", blankPNG(), 400, "body: image holds no digit"},
		{"a multipart image field that is not an image", "/predict", formType, form, 400, `form field "image": not a PNG or JPEG image`},
		{"a multipart form without the image field", "/predict", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--xyz--\r\n"), 400, `no field "image"`},
		{"a multipart form without a boundary", "/predict", "multipart/form-data", []byte("x"), 400, "boundary"},
		{"a batch of 0 images", "/predict/batch", j, []byte(`{"images": []}`), 400, "images is empty"},
		{"a batch of 257 images", "/predict/batch", j, batchOf(257), 400, "images has 257 images, want at most 256"},
		{"a batch with no images field", "/predict/batch", j, []byte(`{"image": []}`), 400, `missing field "images"`},
		{"a batch whose images is not an array", "/predict/batch", j, []byte(`{"images": 3}`), 400, "images is a number"},
		{"a batch with one bad image", "/predict/batch", j, []byte(`{"images": [` + flatOf(pixels) + `,` + rowsWith(5, flatOf(29)) + `]}`), 400, "images[1]: row 5 has 29 values, want 28"},
		{"a batch sent as a PNG", "/predict/batch", "image/png", inkPNG(), 415, "application/json"},
	}
}

func TestBadInputIsRefusedWithAClearErrorAndNothingStored(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "v"})
		for _, tc := range badCases() {
			t.Run(tc.name, func(t *testing.T) {
				before := count(t, st)
				rec := do(t, s, http.MethodPost, tc.path, tc.contentType, tc.body)
				msg := errorOf(t, rec, tc.status)
				t.Logf("%d %s", rec.Code, msg)
				if !strings.Contains(msg, tc.wantMsg) {
					t.Errorf("error %q, want it to contain %q", msg, tc.wantMsg)
				}
				if after := count(t, st); after != before {
					t.Errorf("%d rows stored for a bad request", after-before)
				}
			})
		}
	})
}
