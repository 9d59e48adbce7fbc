package web

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// parseIndex parses Index and fails the test when it is not HTML at all.
func parseIndex(tb testing.TB) *html.Node {
	tb.Helper()
	doc, err := html.Parse(bytes.NewReader(Index))
	if err != nil {
		tb.Fatalf("parse index.html: %v", err)
	}
	return doc
}

// walk calls f for every element node under n.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// text returns the text under n with entities decoded, as a reader sees it.
func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func TestIndexShowsHowToCallEveryRoute(t *testing.T) {
	var code strings.Builder
	walk(parseIndex(t), func(n *html.Node) {
		if n.DataAtom == atom.Pre {
			code.WriteString(text(n))
		}
	})
	examples := code.String()
	for _, want := range []string{
		`curl -s http://localhost:5000/predict -H 'Content-Type: application/json' -d @one.json`,
		`{"image": [[255 if 12 <= x <= 15`,
		`for x in range(28)] for y in range(28)]}`,
		`{"image": [255 if 12 <= i % 28 <= 15`,
		`for i in range(784)]}`,
		`-H 'Content-Type: image/png' --data-binary @digit.png`,
		`/predict -F image=@digit.png`,
		`/predict/batch -H 'Content-Type: application/json'`,
		`{"images": [one, one]}`,
		`/predictions?limit=10`,
		`/predictions/1/image.png`,
		`/predictions/1/saliency.png`,
		`/models/VERSION/live`,
		`curl -s http://localhost:5000/model`,
		`curl -s http://localhost:5000/metrics`,
		`curl -s http://localhost:5000/healthz`,
		`curl -s http://localhost:5000/readyz`,
	} {
		if !strings.Contains(examples, want) {
			t.Errorf("the curl examples lack %q", want)
		}
	}
}

func TestIndexLinksToTheOpenAPIDocument(t *testing.T) {
	found := false
	walk(parseIndex(t), func(n *html.Node) {
		if href, _ := attr(n, "href"); n.DataAtom == atom.A && href == "/openapi.json" {
			found = true
		}
	})
	if !found {
		t.Errorf(`the page has no <a href="/openapi.json">`)
	}
}

func TestIndexLoadsNothingFromOutside(t *testing.T) {
	external := regexp.MustCompile(`(?i)^\s*(https?:)?//`)
	walk(parseIndex(t), func(n *html.Node) {
		for _, key := range []string{"src", "href", "action", "srcset", "poster", "data", "formaction"} {
			if v, ok := attr(n, key); ok && external.MatchString(v) {
				t.Errorf("<%s %s=%q> loads from outside the server", n.Data, key, v)
			}
		}
	})
	for name, js := range map[string][]byte{"app.js": appJS, "charts.js": chartsJS} {
		// charts.js names the SVG namespace, which is an identifier, not a load.
		s := strings.ReplaceAll(string(js), `"http://www.w3.org/2000/svg"`, "")
		if strings.Contains(s, "http:") || strings.Contains(s, "https:") || strings.Contains(s, "//cdn") {
			t.Errorf("%s names an absolute URL; it must call only this server", name)
		}
	}
	if s := string(styleCSS); strings.Contains(s, "@import") || strings.Contains(s, "url(") {
		t.Errorf("the style sheet imports or references a resource")
	}
}

// TestIndexHasNoInlineCode keeps the page working under the server's CSP
// (default-src 'self', no 'unsafe-inline'): script and style come from the
// assets only, and no element carries a style or on* attribute.
func TestIndexHasNoInlineCode(t *testing.T) {
	var scripts, sheets []string
	walk(parseIndex(t), func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s=...> is inline code the CSP refuses", n.Data, a.Key)
			}
		}
		switch n.DataAtom {
		case atom.Script:
			src, _ := attr(n, "src")
			if strings.TrimSpace(text(n)) != "" {
				t.Errorf("an inline <script> (the CSP refuses it)")
			}
			scripts = append(scripts, src)
		case atom.Style:
			t.Errorf("an inline <style> (the CSP refuses it)")
		case atom.Link:
			if rel, _ := attr(n, "rel"); rel == "stylesheet" {
				href, _ := attr(n, "href")
				sheets = append(sheets, href)
			}
		}
	})
	for _, list := range [][]string{scripts, sheets} {
		for _, path := range list {
			if _, ok := Asset(path); !ok {
				t.Errorf("the page loads %q, which is no asset", path)
			}
		}
	}
	if strings.Join(scripts, " ") != "/charts.js /app.js" || len(sheets) != 1 {
		t.Errorf("scripts %q and style sheets %q, want charts.js, then app.js which uses it, and one style sheet", scripts, sheets)
	}
}

// voidElements have no end tag in HTML.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

func TestIndexClosesEveryElementItOpens(t *testing.T) {
	z := html.NewTokenizer(bytes.NewReader(Index))
	var open []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			if len(open) > 0 {
				t.Errorf("elements left open at the end: %v", open)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				t.Fatalf("</%s> does not close the innermost open element (open: %v)", name, open)
			}
			open = open[:len(open)-1]
		}
	}
}

func TestIndexHoldsTheDrawingPadAndEveryElementItsScriptUses(t *testing.T) {
	doc := parseIndex(t)
	ids := map[string]*html.Node{}
	var buttons []string
	walk(doc, func(n *html.Node) {
		if id, ok := attr(n, "id"); ok {
			if ids[id] != nil {
				t.Errorf("id %q is used twice", id)
			}
			ids[id] = n
		}
		switch n.DataAtom {
		case atom.Button:
			buttons = append(buttons, strings.TrimSpace(text(n)))
		}
	})
	if pad := ids["pad"]; pad == nil || pad.DataAtom != atom.Canvas {
		t.Errorf("no <canvas id=pad>")
	} else if w, _ := attr(pad, "width"); w != "280" {
		t.Errorf("the pad is %s px wide, want 280", w)
	}
	if got := strings.Join(buttons, ","); got != "Use token,Forget,Predict,Clear" { // the models table makes its own
		t.Errorf("buttons %q, want Use token, Forget, Predict and Clear", got)
	}
	if up := ids["upload"]; up == nil {
		t.Errorf("no file input for uploads")
	} else if accept, _ := attr(up, "accept"); !strings.Contains(accept, "image/png") || !strings.Contains(accept, "image/jpeg") {
		t.Errorf("upload accepts %q, want PNG and JPEG", accept)
	}
	js := string(appJS)
	for _, m := range regexp.MustCompile(`\$\("([^"]+)"\)`).FindAllStringSubmatch(js, -1) {
		if ids[m[1]] == nil {
			t.Errorf("the script uses element #%s, which the page lacks", m[1])
		}
	}
	for _, call := range []string{`api("/predict"`, `"/predictions?limit=10"`, `"image.png"`, `"saliency.png"`, `"/live"`, `api("/model")`, `form.append("image"`, `JSON.stringify({ image: rows })`, `sessionStorage`, `"Bearer "`} {
		if !strings.Contains(js, call) {
			t.Errorf("the script lacks %s", call)
		}
	}
}
