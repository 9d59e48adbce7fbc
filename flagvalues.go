package main

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// byteSize is a flag value of a size in bytes: 1048576, 1MiB, 512KiB.
type byteSize int64

func (b *byteSize) String() string {
	switch n := int64(*b); {
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("want a positive size such as 1048576, 1MiB or 512KiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// cidrList is a flag value of comma-separated CIDRs; a bare address is a
// network of one.
type cidrList []*net.IPNet

func (l *cidrList) String() string {
	var out []string
	for _, n := range *l {
		out = append(out, n.String())
	}
	return strings.Join(out, ",")
}

func (l *cidrList) Set(v string) error {
	var out cidrList
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return fmt.Errorf("%q is not an address or CIDR", f)
			}
			bits := 128
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// originList is a flag value of comma-separated origins such as
// https://example.org. "*" is refused: tokens must not be usable from any
// page on the web.
type originList []string

func (l *originList) String() string { return strings.Join(*l, ",") }

func (l *originList) Set(v string) error {
	var out originList
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		u, err := url.Parse(f)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("%q is not an origin like https://example.org", f)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	*l = out
	return nil
}
