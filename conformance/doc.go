// Package conformance holds the Open Inference Protocol conformance test:
// every endpoint and tensor shape the protocol text asks for, the binary
// tensor data extension, and the bad inputs each must refuse, run against
// the real server over REST and over gRPC, on SQLite and (with
// TEST_DATABASE_URL) PostgreSQL. It has no code outside its tests.
package conformance
