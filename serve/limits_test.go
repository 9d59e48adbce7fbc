package serve

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/store/storetest"
)

// frozen stops the limiter's clock, so that no token refills while a test
// fires its requests however slowly the machine runs them.
func frozen(s *Server) *time.Time {
	now := time.Now()
	s.limiter.now = func() time.Time { return now }
	return &now
}

// fromAddr sends a /predict from the client address addr.
func fromAddr(tb testing.TB, s *Server, addr, xff, token string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(string(mustJSON(tb, map[string]any{"image": rows(digitImage(2))}))))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := serveHTTP(tb, s, req)
	return rec
}

// burst sends n requests at once and counts the answers by status.
func burst(t *testing.T, n int, send func() *httptest.ResponseRecorder) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			rec := send()
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
			if rec.Code == http.StatusTooManyRequests {
				if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("429 with Retry-After %q, want whole seconds >= 1", rec.Header().Get("Retry-After"))
				}
				errorOf(t, rec, http.StatusTooManyRequests)
			}
		})
	}
	close(start)
	wg.Wait()
	return codes
}

func TestRateLimitGivesTheBurstThen429AndSparesOtherClients(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{Rate: 10, Burst: 20}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	now := frozen(s)

	codes := burst(t, 100, func() *httptest.ResponseRecorder { return fromAddr(t, s, "192.0.2.1", "", "") })
	if codes[200] != 20 || codes[429] != 80 || len(codes) != 2 {
		t.Fatalf("100 requests at once with --rate 10 --burst 20: %v, want 20 x 200 and 80 x 429", codes)
	}
	if n := count(t, st); n != 20 {
		t.Errorf("%d rows stored, want the 20 answered", n)
	}
	// Another client at the same moment has its own bucket.
	if rec := fromAddr(t, s, "192.0.2.2", "", ""); rec.Code != 200 {
		t.Errorf("another client: %d, want 200", rec.Code)
	}
	// A tenth of a second later the first client has one token again.
	*now = now.Add(100 * time.Millisecond)
	if rec := fromAddr(t, s, "192.0.2.1", "", ""); rec.Code != 200 {
		t.Errorf("after the refill: %d, want 200", rec.Code)
	}
	if rec := fromAddr(t, s, "192.0.2.1", "", ""); rec.Code != 429 {
		t.Errorf("second request after one refill: %d, want 429", rec.Code)
	}
	// Probes are never limited.
	if rec := send(t, s, "GET", "/healthz", "", "", nil); rec.Code != 200 {
		t.Errorf("/healthz while limited: %d, want 200", rec.Code)
	}
}

func TestRateLimitCountsATokenWhateverItsAddress(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, tk := keyring(t)
	s := New(Config{Keys: ring, Rate: 1, Burst: 2}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	frozen(s)
	for i, want := range []int{200, 200, 429} {
		if rec := fromAddr(t, s, fmt.Sprintf("198.51.100.%d", i+1), "", tk.alice); rec.Code != want {
			t.Errorf("alice's request %d from a new address: %d, want %d", i+1, rec.Code, want)
		}
	}
	if rec := fromAddr(t, s, "198.51.100.1", "", tk.bob); rec.Code != 200 {
		t.Errorf("bob from alice's address: %d, want 200", rec.Code)
	}
}

func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	_, proxies, _ := net.ParseCIDR("172.28.0.0/24")
	s := New(Config{Rate: 1, Burst: 1, TrustedProxies: []*net.IPNet{proxies}}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	frozen(s)
	steps := []struct {
		name, peer, xff string
		want            int
	}{
		{"client A through nginx", "172.28.0.5", "203.0.113.7", 200},
		{"client B through nginx", "172.28.0.5", "203.0.113.8", 200},
		{"client A again through nginx", "172.28.0.5", "203.0.113.7", 429},
		// Not from the proxy: the header is the client's own word, ignored.
		{"a direct client claiming to be C", "192.0.2.50", "203.0.113.9", 200},
		{"the same direct client claiming to be D", "192.0.2.50", "203.0.113.10", 429},
		// A spoofed entry before nginx's own is skipped: nginx appends the peer it saw.
		{"client B prepending a fake address", "172.28.0.5", "10.9.9.9, 203.0.113.8", 429},
	}
	for _, st := range steps {
		if rec := fromAddr(t, s, st.peer, st.xff, ""); rec.Code != st.want {
			t.Errorf("%s: %d, want %d", st.name, rec.Code, st.want)
		}
	}
}

func TestSecurityHeadersOnPageAndJSON(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, _ := keyring(t)
	s := New(Config{Keys: ring}, st, nil)
	for _, target := range []string{"/", "/app.js", "/welcome", "/predictions", "/nowhere"} {
		rec := send(t, s, "GET", target, "", "", nil)
		for h, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		} {
			if got := rec.Header().Get(h); !strings.Contains(got, want) {
				t.Errorf("GET %s (%d): %s = %q, want %q", target, rec.Code, h, got, want)
			}
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q, want frame-ancestors 'none' and no unsafe-inline", target, csp)
		}
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q without --cors-origins", target, got)
		}
	}
}

func TestCORSOnlyForListedOrigins(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	for _, tc := range []struct {
		origins []string
		origin  string
		want    string
	}{
		{nil, "https://app.example", ""},
		{[]string{"https://app.example"}, "https://app.example", "https://app.example"},
		{[]string{"https://app.example"}, "https://evil.example", ""},
	} {
		s := New(Config{CORSOrigins: tc.origins}, st, nil)
		req := httptest.NewRequest(http.MethodOptions, "/predict", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		rec := serveHTTP(t, s, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("origins %v, preflight from %s: Allow-Origin %q, want %q", tc.origins, tc.origin, got, tc.want)
		}
		allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "traceparent", "idempotency-key", "inference-header-content-length"} {
			if tc.want != "" && !strings.Contains(allowed, h) {
				t.Errorf("preflight allows headers %q, want %s among them", rec.Header().Get("Access-Control-Allow-Headers"), h)
			}
		}
		req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.Header.Set("Origin", tc.origin)
		exposed := strings.ToLower(serveHTTP(t, s, req).Header().Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"idempotent-replayed", "inference-header-content-length", "retry-after"} {
			if tc.want != "" && !strings.Contains(exposed, h) {
				t.Errorf("answers to %s expose headers %q, want %s among them", tc.origin, exposed, h)
			}
		}
	}
}

func TestRequestIDIsKeptOnlyWhenShortAndPlain(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{}, st, nil)
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"abc-123_x.y:z", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("a", 1<<20), false},
		{"has space", false},
		{"new\nline", false},
		{"<script>", false},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-ID", tc.sent)
		rec := serveHTTP(t, s, req)
		got := rec.Header().Get("X-Request-ID")
		if tc.kept && got != tc.sent {
			t.Errorf("X-Request-ID %.20q: answered %q, want it echoed", tc.sent, got)
		}
		if !tc.kept && (got == tc.sent || !requestIDRE.MatchString(got)) {
			t.Errorf("X-Request-ID %.20q (%d bytes): answered %.20q, want a fresh plain id", tc.sent, len(tc.sent), got)
		}
	}
}
