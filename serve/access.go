package serve

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/keys"
)

// Keys checks API tokens. *keys.Keyring satisfies it; a nil Keys in Config
// turns authentication off (everything open, as for a local `make run`).
type Keys interface {
	Lookup(token string) (keys.Key, bool)
}

// access is who may call a route; routes declares one for every route.
type access int

const (
	// public routes answer anyone: the page, the welcome, the probes.
	public access = iota
	// predicting routes need a predict or admin key, or nothing at all with
	// Config.OpenPredict.
	predicting
	// owner routes read or change stored rows: a predict key sees only its
	// own, an admin key all; anonymous clients never, even with OpenPredict.
	owner
	// admin routes need an admin key.
	admin
)

// principalKey is the echo.Context key of the caller's principal.
const principalKey = "principal"

// principal is who sent a request, as authenticate found out.
type principal struct {
	key      keys.Key // the matched key; zero when anonymous or bad
	hasToken bool     // an Authorization header was sent
	valid    bool     // ... and it named a key that exists now
}

// authenticate finds out who sent the request from its Authorization
// header. It refuses nothing itself: the access check of each route does,
// so that public routes stay public and the rate limiter can tell clients
// apart before any refusal. The token is never logged or echoed.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.Keys == nil {
			return next(c)
		}
		var p principal
		if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
			p.hasToken = true
			scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				p.key, p.valid = s.cfg.Keys.Lookup(strings.TrimSpace(token))
			}
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// principalOf returns the principal authenticate stored.
func principalOf(c echo.Context) principal {
	p, _ := c.Get(principalKey).(principal)
	return p
}

// allow returns the middleware that lets through only callers with the
// access a route needs: 401 with WWW-Authenticate when the token is missing
// or unknown, 403 when the key's role lacks the right.
func (s *Server) allow(need access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := s.check(c, need); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// check is allow's decision.
func (s *Server) check(c echo.Context, need access) error {
	if s.cfg.Keys == nil || need == public {
		return nil
	}
	p := principalOf(c)
	switch {
	case p.hasToken && !p.valid:
		return unauthorized(c, `error="invalid_token"`, "the token is not valid (unknown or revoked)")
	case !p.hasToken && need == predicting && s.cfg.OpenPredict:
		return nil
	case !p.hasToken:
		return unauthorized(c, "", "this route needs a token: send Authorization: Bearer TOKEN")
	}
	role := keys.RolePredict
	if need == admin {
		role = keys.RoleAdmin
	}
	if !p.key.Role.Allows(role) {
		return errorf(http.StatusForbidden, "key %q has role %s; this route needs role %s", p.key.Name, p.key.Role, role)
	}
	return nil
}

// unauthorized sets the challenge RFC 6750 asks for and returns the 401.
func unauthorized(c echo.Context, params, msg string) error {
	challenge := `Bearer realm="mnist"`
	if params != "" {
		challenge += ", " + params
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	return errorf(http.StatusUnauthorized, "%s", msg)
}

// clientOf is the name recorded in the rows the request stores: the key's
// name, or nil when keys are off or the caller is anonymous.
func clientOf(c echo.Context) *string {
	p := principalOf(c)
	if !p.valid {
		return nil
	}
	name := p.key.Name
	return &name
}

// visibleTo is the client whose rows the caller may read: nil for all rows
// (keys off, or an admin key), else the caller's own name. Anonymous
// callers never reach the routes that use it (owner access).
func (s *Server) visibleTo(c echo.Context) *string {
	if s.cfg.Keys == nil {
		return nil
	}
	p := principalOf(c)
	if p.valid && p.key.Role == keys.RoleAdmin {
		return nil
	}
	name := p.key.Name // "" for anonymous: matches no stored client
	return &name
}

// mayRead reports whether the caller may see a row made by client.
func (s *Server) mayRead(c echo.Context, client *string) bool {
	want := s.visibleTo(c)
	return want == nil || (client != nil && *client == *want)
}

// KeysOn reports whether the server checks tokens, for the other
// transports wired beside it.
func (s *Server) KeysOn() bool { return s.cfg.Keys != nil }
