// Package sqlite stands in for github.com/glebarez/go-sqlite, the SQLite
// driver that GORM's pure-Go dialect (github.com/glebarez/sqlite) imports,
// with modernc.org/sqlite, the driver it was forked from: go.mod replaces
// the one with this module. The newer driver keeps a prepared statement
// compiled (the fork compiled every statement anew on every call, which
// cost the group commit more than its insert) and bundles a newer SQLite.
// It registers itself as "sqlite", the name the dialect opens; Error is
// the type the dialect's Translate looks for.
package sqlite

import msqlite "modernc.org/sqlite"

// Error is the driver's error, with the SQLite result code.
type Error = msqlite.Error
