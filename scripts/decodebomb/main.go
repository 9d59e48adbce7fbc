// Command decodebomb sends images that are small on the wire and huge once
// decoded (a 4096x4096 16-bit RGBA PNG, and any JPEG given, e.g. a
// progressive 4096x4096 one) to a running server, all at once, while an
// ordinary client keeps asking for predictions; it prints the statuses and
// the ordinary client's latencies. scripts/decode-bomb.sh runs it against a
// fresh server and reads the server's peak RSS.
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:18500", "server address")
	n := flag.Int("n", 16, "copies of each image sent at once")
	jpegs := flag.String("jpeg", "", "comma-separated JPEG files to send too")
	flag.Parse()
	if err := run(*url, *n, *jpegs); err != nil {
		fmt.Fprintln(os.Stderr, "decodebomb:", err)
		os.Exit(1)
	}
}

func run(url string, n int, jpegs string) error {
	bodies := map[string][]byte{}
	p, err := bombPNG(4096, 4096)
	if err != nil {
		return err
	}
	bodies["png 4096x4096 16-bit RGBA"] = p
	for _, f := range strings.Split(jpegs, ",") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		bodies["jpeg "+f] = b
	}
	for name, b := range bodies {
		fmt.Printf("%s: %d bytes on the wire\n", name, len(b))
	}

	var mu sync.Mutex
	codes := map[string]map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for name, body := range bodies {
		ctype := "image/png"
		if strings.HasPrefix(name, "jpeg") {
			ctype = "image/jpeg"
		}
		codes[name] = map[int]int{}
		for range n {
			wg.Go(func() {
				code := post(url+"/predict", ctype, body)
				mu.Lock()
				codes[name][code]++
				mu.Unlock()
			})
		}
	}
	// An ordinary client meanwhile: one small JSON image after another.
	done := make(chan struct{})
	var lat []time.Duration
	var ord sync.WaitGroup
	ord.Go(func() {
		one := `{"image": [` + strings.TrimSuffix(strings.Repeat("0,", 784), ",") + `]}`
		for {
			select {
			case <-done:
				return
			default:
			}
			t := time.Now()
			post(url+"/predict", "application/json", []byte(one))
			lat = append(lat, time.Since(t))
		}
	})
	wg.Wait()
	all := time.Since(start)
	close(done)
	ord.Wait()
	for name, c := range codes {
		fmt.Printf("%s x %d: statuses %v\n", name, n, c)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		fmt.Printf("all answered in %v; ordinary client meanwhile: %d requests, median %v, max %v\n",
			all.Round(time.Millisecond), len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	return nil
}

// post sends body and returns the status, or 0 when there was no answer.
func post(url, ctype string, body []byte) int {
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// bombPNG writes a real w x h 16-bit RGBA PNG of transparent black: rows
// of zeros compress to almost nothing.
func bombPNG(w, h int) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(kind))
		c.Write(data)
		out.WriteString(kind)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, [2]uint32{uint32(w), uint32(h)})
	ihdr.Write([]byte{16, 6, 0, 0, 0})
	chunk("IHDR", ihdr.Bytes())
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	row := make([]byte, 1+w*8) // filter byte, then 8 bytes a pixel
	for range h {
		if _, err := zw.Write(row); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes(), nil
}
