// Command ceiling is the host's HTTP ceiling for /predict: a bare Echo
// server whose one route, POST /predict, reads the whole body and answers
// 200 with a fixed JSON body of the same size as /predict's answer. No
// middleware, no decoding, no model, no database. scripts/ceiling.sh runs
// wrk against it and against `app serve` side by side; the ratio of the
// two is how much of the host's HTTP capacity a prediction with storage
// leaves.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18890", "address to listen on")
	size := flag.Int("size", 217, "bytes of the answer, newline included (/predict's answer for MNIST test image 0 with a model version of 20 characters is 217)")
	flag.Parse()
	if err := run(*addr, *size); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

// run serves until the process is killed.
func run(addr string, size int) error {
	answer, err := fixedAnswer(size)
	if err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.POST("/predict", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "read body: "+err.Error())
		}
		return c.JSONBlob(http.StatusOK, answer)
	})
	srv := &http.Server{Addr: addr, Handler: e, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "ceiling: listening on %s, answering %d bytes\n", addr, size)
	return srv.ListenAndServe()
}

// fixedAnswer is a JSON object of exactly size bytes, newline included,
// shaped like /predict's answer (the probabilities padded with digits).
func fixedAnswer(size int) ([]byte, error) {
	head := []byte(`{"prediction":7,"confidence":0.5,"probabilities":[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1],"id":1,"model_version":"`)
	tail := []byte("\"}\n")
	pad := size - len(head) - len(tail)
	if pad < 0 {
		return nil, errors.New("size too small for a prediction-shaped answer")
	}
	return bytes.Join([][]byte{head, bytes.Repeat([]byte("x"), pad), tail}, nil), nil
}
