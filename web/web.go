// Package web holds the page served at GET / for people who try the service
// in a browser: what it is, how to call it, and a pad to draw a digit on.
package web

import _ "embed"

// Index is the welcome page: HTML with the API's curl examples and a drawing
// pad that posts the digit to /predict. Its script and style are the assets
// below, never inline, so the server's Content-Security-Policy can forbid
// inline code.
//
//go:embed index.html
var Index []byte

var (
	//go:embed app.js
	appJS []byte
	//go:embed charts.js
	chartsJS []byte
	//go:embed style.css
	styleCSS []byte
)

// File is one asset of the page with its content type.
type File struct {
	ContentType string
	Body        []byte
}

// Asset returns the asset served at path ("/app.js", "/charts.js",
// "/style.css").
func Asset(path string) (File, bool) {
	switch path {
	case "/app.js":
		return File{"text/javascript; charset=utf-8", appJS}, true
	case "/charts.js":
		return File{"text/javascript; charset=utf-8", chartsJS}, true
	case "/style.css":
		return File{"text/css; charset=utf-8", styleCSS}, true
	}
	return File{}, false
}
