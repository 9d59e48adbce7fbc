package robust

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// FontDirs are where Debian and most Linux systems keep their fonts.
var FontDirs = []string{"/usr/share/fonts", "/usr/local/share/fonts"}

// FindFonts returns the TrueType and OpenType files under dirs, sorted; a
// folder that does not exist adds nothing.
func FindFonts(dirs ...string) []string {
	var files []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable folder adds nothing
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !d.IsDir() && (ext == ".ttf" || ext == ".otf") {
				files = append(files, path)
			}
			return nil
		})
	}
	slices.Sort(files)
	return files
}

// Picture size and type size of a typed digit: a digit about 45 px tall
// on a 96 px square, as a screenshot of typed text might be.
const (
	fontCanvas = 96
	fontSize   = 64
)

// FontDigits types 0 to 9 in each font file, dark on white, one PNG each.
// Files that are not fonts, or lack a digit, are skipped.
func FontDigits(files []string) (*Set, error) {
	set := &Set{Name: Fonts}
	for _, file := range files {
		pics, err := typeDigits(file)
		if err != nil {
			continue // not every file under a fonts folder is a usable font
		}
		for d, pic := range pics {
			set.PNGs = append(set.PNGs, pic)
			set.Labels = append(set.Labels, byte(d))
		}
	}
	return set, nil
}

// typeDigits renders 0 to 9 in the font of file.
func typeDigits(file string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, err := opentype.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	var buf sfnt.Buffer
	for d := '0'; d <= '9'; d++ {
		if i, err := f.GlyphIndex(&buf, d); err != nil || i == 0 {
			return nil, fmt.Errorf("%s has no glyph for %c", file, d)
		}
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: fontSize, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("face of %s: %w", file, err)
	}
	defer face.Close()
	pics := make([][]byte, 10)
	for d := range 10 {
		s := string(rune('0' + d))
		img := image.NewGray(image.Rect(0, 0, fontCanvas, fontCanvas))
		draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
		dr := font.Drawer{Dst: img, Src: image.Black, Face: face}
		adv := dr.MeasureString(s)
		dr.Dot = fixed.Point26_6{X: (fixed.I(fontCanvas) - adv) / 2, Y: fixed.I(fontCanvas * 3 / 4)}
		dr.DrawString(s)
		var b bytes.Buffer
		if err := fastPNG.Encode(&b, img); err != nil {
			return nil, fmt.Errorf("encode png: %w", err)
		}
		pics[d] = b.Bytes()
	}
	return pics, nil
}
