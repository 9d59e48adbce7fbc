// Package web holds the page served at GET / for people who try the service
// in a browser: what it is, how to call it, and a pad to draw a digit on.
package web

import _ "embed"

// Index is the welcome page: a self-contained HTML document (inline CSS and
// JavaScript, no outside resources) with the API's curl examples and a
// drawing pad that posts the digit to /predict.
//
//go:embed index.html
var Index []byte
