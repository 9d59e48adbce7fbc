// Package api holds the OpenAPI 3 document of the HTTP API. It is embedded
// so that the server serves it at GET /openapi.json and the server's tests
// check every answer they receive against the same bytes.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document, in JSON, of every HTTP route: its
// parameters, bodies, answers and errors.
//
//go:embed openapi.json
var OpenAPI []byte
