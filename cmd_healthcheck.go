package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

var cmdHealthcheck = &Command{
	UsageLine: "app healthcheck [flags]",
	Short:     "exit 0 when the server at --url answers /healthz",
	Long: `Exits 0 when the server answers 200, 1 otherwise. The distroless image has
no shell or curl, so the container's HEALTHCHECK calls the binary itself.`,
	Flag: func(fs *FlagSet) RunFunc {
		url := healthURL("5000")
		timeout := 3 * time.Second
		fs.String(&url, "url", "address (`URL`) to GET", EnvAs("PORT", "the port", healthURL))
		fs.Duration(&timeout, "timeout", "give up after this long")
		return func(ctx context.Context, _ []string, stdout, _ io.Writer) error {
			return runHealthcheck(ctx, url, timeout, stdout)
		}
	},
}

// healthURL is the /healthz address of a server on port of this host.
func healthURL(port string) string { return "http://127.0.0.1:" + port + "/healthz" }

// runHealthcheck asks a running server for /healthz and fails unless it
// answers 200 within timeout.
func runHealthcheck(ctx context.Context, url string, timeout time.Duration, stdout io.Writer) error {
	if timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %v", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("bad --url %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection closes cleanly; the body is not needed.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d, want 200", url, resp.StatusCode)
	}
	fmt.Fprintf(stdout, "ok: %s answered 200\n", url)
	return nil
}
