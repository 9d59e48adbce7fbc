package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/api"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/web"
)

// routeOpts are what a route declares besides who may call it.
type routeOpts uint8

const (
	// shed: while the admission queue is full, the door answers a new
	// connection's request for this route 503 before the HTTP server
	// reads it (see door.go). Only routes that take an admission slot.
	shed routeOpts = 1 << iota
	// unlimited: the rate limit does not apply. Probes are polled by
	// orchestrators; limiting them would only make a busy client look
	// like a dead server.
	unlimited
	// quiet: successes are logged at debug, as machines poll the route
	// every few seconds and would drown the log.
	quiet
)

// route is one row of the route table.
type route struct {
	method, path string
	who          access
	opts         routeOpts
	h            echo.HandlerFunc
}

// table is every route of the API, each with who may call it (see access:
// public, predicting, owner, admin) and its options. A new route goes in
// this table; the access test fails for a route that has no row in its
// own table.
func (s *Server) table() []route {
	return []route{
		{http.MethodGet, "/", public, 0, s.handleIndex},
		{http.MethodGet, "/app.js", public, 0, s.handleAsset},
		{http.MethodGet, "/charts.js", public, 0, s.handleAsset},
		{http.MethodGet, "/style.css", public, 0, s.handleAsset},
		{http.MethodGet, "/welcome", public, 0, s.handleWelcome},
		{http.MethodGet, "/openapi.json", public, 0, s.handleOpenAPI},
		{http.MethodGet, "/healthz", public, unlimited | quiet, s.handleHealthz},
		{http.MethodGet, "/readyz", public, unlimited | quiet, s.handleReadyz},
		{http.MethodPost, "/predict", predicting, shed, s.handlePredict},
		{http.MethodPost, "/predict/batch", predicting, shed, s.handlePredictBatch},
		{http.MethodGet, "/model", predicting, 0, s.handleModel},
		{http.MethodGet, "/models", admin, 0, s.handleModels},
		{http.MethodPost, "/models/:version/promote", admin, 0, s.handlePromote},
		{http.MethodGet, "/models/:version/live", admin, 0, s.handleModelLive},
		{http.MethodPost, "/models/rollback", admin, 0, s.handleRollback},
		{http.MethodGet, "/predictions", owner, 0, s.handlePredictions},
		{http.MethodGet, "/predictions/:id", owner, 0, s.handlePrediction},
		{http.MethodGet, "/predictions/:id/image.png", owner, 0, s.handlePredictionImage},
		{http.MethodGet, "/predictions/:id/saliency.png", owner, 0, s.handleSaliency},
		{http.MethodDelete, "/predictions/:id", admin, 0, s.handleDeletePrediction},
		{http.MethodPut, "/predictions/:id/label", owner, 0, s.handlePutLabel},
		{http.MethodDelete, "/predictions/:id/label", owner, 0, s.handleDeleteLabel},
		{http.MethodGet, "/metrics", admin, quiet, echo.WrapHandler(s.metrics.handler())},
		// The Open Inference Protocol (v2.go): the probes, model ready
		// included, as /healthz and /readyz; the rest as /model and /predict.
		{http.MethodGet, "/v2/health/live", public, unlimited | quiet, s.handleV2Live},
		{http.MethodGet, "/v2/health/ready", public, unlimited | quiet, s.handleV2Ready},
		{http.MethodGet, "/v2", predicting, 0, s.handleV2Server},
		{http.MethodGet, "/v2/models/:model", predicting, 0, s.handleV2Model},
		{http.MethodGet, "/v2/models/:model/versions/:version", predicting, 0, s.handleV2Model},
		{http.MethodGet, "/v2/models/:model/ready", public, unlimited | quiet, s.handleV2ModelReady},
		{http.MethodGet, "/v2/models/:model/versions/:version/ready", public, unlimited | quiet, s.handleV2ModelReady},
		{http.MethodPost, "/v2/models/:model/infer", predicting, shed, s.handleV2Infer},
		{http.MethodPost, "/v2/models/:model/versions/:version/infer", predicting, shed, s.handleV2Infer},
	}
}

// routes registers the route table and the middleware in front, and keeps
// each route's options for the middleware and the door.
func (s *Server) routes() {
	s.e.Use(s.middlewares()...)
	s.opts = make(map[string]routeOpts)
	for _, r := range s.table() {
		s.e.Add(r.method, r.path, r.h, s.allow(r.who))
		if r.method == http.MethodGet {
			// Load balancers and curl -I probe with HEAD; net/http sends
			// the headers of the GET answer and drops its body.
			s.e.Add(http.MethodHead, r.path, r.h, s.allow(r.who))
		}
		s.opts[r.path] |= r.opts
		if r.opts&shed != 0 {
			s.shedRoutes = append(s.shedRoutes, r.method+" "+r.path)
		}
	}

	s.known = make(map[string]bool)
	for _, r := range s.e.Routes() {
		s.known[r.Path] = true
	}
	s.spanStarts = routeSpans(s.tracer, s.e.Routes())
}

// routeHas reports whether the route pattern of c declared opt.
func (s *Server) routeHas(c echo.Context, opt routeOpts) bool {
	return s.opts[c.Path()]&opt != 0
}

// handleIndex serves GET /: the page that says how to ask for a prediction.
func (s *Server) handleIndex(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, web.Index)
}

// handleAsset serves GET /app.js, GET /charts.js and GET /style.css: the
// page's scripts and style, in files of their own so the CSP needs no
// inline code.
func (s *Server) handleAsset(c echo.Context) error {
	a, ok := web.Asset(c.Path())
	if !ok {
		return errorf(http.StatusNotFound, "no asset %s", c.Path())
	}
	return c.Blob(http.StatusOK, a.ContentType, a.Body)
}

// handleOpenAPI serves GET /openapi.json: the OpenAPI 3 document of every
// route, for clients generated from it and for people reading it.
func (s *Server) handleOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, api.OpenAPI)
}

// welcome is the answer of GET /welcome.
type welcome struct {
	Message string `json:"message"`
	Predict string `json:"predict"`
	Docs    string `json:"docs"`
	// Auth tells the page whether to ask for a token: "none" (no keys),
	// "token" (every route but the page needs one) or "open-predict"
	// (anyone may predict, reading stored rows needs a token).
	Auth string `json:"auth"`
}

// handleWelcome serves GET /welcome: a short welcome message.
func (s *Server) handleWelcome(c echo.Context) error {
	return c.JSON(http.StatusOK, welcome{
		Message: "Welcome to the MNIST digit recogniser. POST a 28x28 image to /predict.",
		Predict: `POST /predict {"image": [[28 ints 0..255], ... 28 rows]} (or 784 ints, or a PNG/JPEG body)`,
		Docs:    "GET / for the page, /predictions for past answers, /model for the served model",
		Auth:    s.authMode(),
	})
}

// authMode names how the server checks tokens, for /welcome.
func (s *Server) authMode() string {
	switch {
	case s.cfg.Keys == nil:
		return "none"
	case s.cfg.OpenPredict:
		return "open-predict"
	}
	return "token"
}

// handleHealthz serves GET /healthz: 200 for as long as the process runs.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the answer of GET /readyz when the server is ready.
type readiness struct {
	Status       string `json:"status"`
	ModelVersion string `json:"model_version"`
	// Training is set while the served model is a checkpoint of a run
	// that goes on (first boot): how far it was and how good.
	Training *training `json:"training,omitempty"`
}

// training is how far the run of a served checkpoint was.
type training struct {
	Epoch       int     `json:"epoch"`
	Epochs      int     `json:"epochs"`
	ValAccuracy float64 `json:"val_accuracy"`
}

// handleReadyz serves GET /readyz: 200 when a model is loaded and the
// database answers within Config.ReadyTimeout, else 503 saying which is not.
func (s *Server) handleReadyz(c echo.Context) error {
	m, err := s.currentModel()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		// The probe is for operators, so it says why, unlike the API's 503s.
		msg := err.Error()
		if !errors.Is(err, store.ErrUnavailable) {
			msg = "database unavailable: " + msg
		}
		return &Error{Status: http.StatusServiceUnavailable, Message: msg, Err: err}
	}
	meta := m.Meta()
	r := readiness{Status: "ready", ModelVersion: meta.Version}
	if cp := meta.Checkpoint; cp != nil {
		r.Training = &training{Epoch: cp.Epoch, Epochs: cp.Epochs, ValAccuracy: meta.ValAccuracy}
	}
	return c.JSON(http.StatusOK, r)
}

// handleModel serves GET /model: the metadata of the served model.
func (s *Server) handleModel(c echo.Context) error {
	m, err := s.currentModel()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m.Meta())
}
