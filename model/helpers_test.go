package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeMeta(tb testing.TB, dir string, m Meta) {
	tb.Helper()
	js, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m.Version+".json"), js, 0o644); err != nil {
		tb.Fatal(err)
	}
}
