package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/web"
)

// routes registers every route of the API and the middleware in front of it.
func (s *Server) routes() {
	s.e.Use(s.middlewares()...)
	e := s.e
	e.GET("/", s.handleIndex)
	e.GET("/welcome", s.handleWelcome)
	e.POST("/predict", s.handlePredict)
	e.POST("/predict/batch", s.handlePredictBatch)
	e.GET("/predictions", s.handlePredictions)
	e.GET("/predictions/:id", s.handlePrediction)
	e.GET("/predictions/:id/image.png", s.handlePredictionImage)
	// Labels: access control belongs in front of these two (a predict key
	// may label its own predictions, an admin key any).
	e.PUT("/predictions/:id/label", s.handlePutLabel)
	e.DELETE("/predictions/:id/label", s.handleDeleteLabel)
	e.GET("/model", s.handleModel)
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()))

	s.known = make(map[string]bool)
	for _, r := range e.Routes() {
		s.known[r.Path] = true
	}
}

// handleIndex serves GET /: the page that says how to ask for a prediction.
func (s *Server) handleIndex(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, web.Index)
}

// welcome is the answer of GET /welcome.
type welcome struct {
	Message string `json:"message"`
	Predict string `json:"predict"`
	Docs    string `json:"docs"`
}

// handleWelcome serves GET /welcome: a short welcome message.
func (s *Server) handleWelcome(c echo.Context) error {
	return c.JSON(http.StatusOK, welcome{
		Message: "Welcome to the MNIST digit recogniser. POST a 28x28 image to /predict.",
		Predict: `POST /predict {"image": [[28 ints 0..255], ... 28 rows]} (or 784 ints, or a PNG/JPEG body)`,
		Docs:    "GET / for the page, /predictions for past answers, /model for the served model",
	})
}

// handleHealthz serves GET /healthz: 200 for as long as the process runs.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the answer of GET /readyz when the server is ready.
type readiness struct {
	Status       string `json:"status"`
	ModelVersion string `json:"model_version"`
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
	return c.JSON(http.StatusOK, readiness{Status: "ready", ModelVersion: m.Meta().Version})
}

// handleModel serves GET /model: the metadata of the served model.
func (s *Server) handleModel(c echo.Context) error {
	m, err := s.currentModel()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m.Meta())
}
