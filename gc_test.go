package main

import (
	"io/fs"
	"testing"
)

func TestPlanGC(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if s, ok := m[name]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		files   map[string]string
		percent int
		limit   int64
	}{
		{"no cgroup, no environment", nil, nil, serveGCPercent, 0},
		{"cgroup v2 limit of 512 MiB", nil, map[string]string{v2: "536870912\n"}, serveGCPercent, 536870912 / 10 * 8},
		{"cgroup v2 without a limit", nil, map[string]string{v2: "max\n"}, serveGCPercent, 0},
		{"cgroup v1 limit", nil, map[string]string{v1: "268435456\n"}, serveGCPercent, 268435456 / 10 * 8},
		{"cgroup v1 without a limit", nil, map[string]string{v1: "9223372036854771712\n"}, serveGCPercent, 0},
		{"GOGC set", map[string]string{"GOGC": "100"}, map[string]string{v2: "536870912"}, 0, 536870912 / 10 * 8},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, map[string]string{v2: "536870912"}, serveGCPercent, 0},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, map[string]string{v2: "536870912"}, 0, 0},
		{"unreadable limit", nil, map[string]string{v2: "lots"}, serveGCPercent, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planGC(env(tc.env), files(tc.files))
			if p.percent != tc.percent || p.limit != tc.limit {
				t.Errorf("planGC: GOGC %d, limit %d; want %d, %d", p.percent, p.limit, tc.percent, tc.limit)
			}
			if len(p.why) != 2 && len(p.why) != 4 {
				t.Errorf("reasons %v: want a key and value for each setting", p.why)
			}
		})
	}
}
