package serve

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// limiter keeps one token bucket (golang.org/x/time/rate) per client: per
// key name for callers with a valid token, per address for the others.
type limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time // time.Now; tests step a fake clock

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// sweepEvery is how often idle buckets are dropped, so that a flood of
// addresses cannot grow the map for ever.
const sweepEvery = time.Minute

func newLimiter(r float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(r), burst: burst, now: time.Now, buckets: make(map[string]*bucket)}
}

// allow takes a token from id's bucket; when there is none it returns how
// long until there will be.
func (l *limiter) allow(id string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > sweepEvery {
		l.sweep(now)
	}
	b := l.buckets[id]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[id] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request takes no token
		return false, d
	}
	return true, 0
}

// sweep drops buckets idle long enough to have refilled: forgetting them
// changes nothing.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Second
	for id, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, id)
		}
	}
	l.lastSweep = now
}

// rateLimit answers 429 with Retry-After once a client has used its burst
// and its rate; it runs after authenticate, so it knows keys from addresses.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	if s.limiter == nil {
		return next
	}
	return func(c echo.Context) error {
		if s.routeHas(c, unlimited) {
			return next(c)
		}
		id := "addr:" + c.RealIP()
		if p := principalOf(c); p.valid {
			id = "key:" + p.key.Name
		}
		ok, wait := s.limiter.allow(id)
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			return errorf(http.StatusTooManyRequests, "too many requests: the limit is %g per second with bursts of %d; try again in %v",
				float64(s.limiter.rate), s.limiter.burst, wait.Round(time.Millisecond))
		}
		return next(c)
	}
}

// RateAllow applies the rate limit of the HTTP routes to a caller of
// another transport (gRPC), so a client's rate covers both: id is
// "key:NAME" or "addr:IP". It reports true when no limit is set.
func (s *Server) RateAllow(id string) (bool, time.Duration) {
	if s.limiter == nil {
		return true, 0
	}
	return s.limiter.allow(id)
}
