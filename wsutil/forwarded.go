package wsutil

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwardedFor returns the client addresses a request's forwarding fields
// list, the client first and the nearest proxy's peer last: the for=
// parameters of Forwarded (RFC 7239) when the request has that field,
// else X-Forwarded-For. Addresses are returned as written, without ports
// or brackets; an obfuscated or unknown node ("unknown", "_hidden") is
// returned as is and fails to parse.
func forwardedFor(h http.Header) []string {
	var hops []string
	if fields := h.Values("Forwarded"); len(fields) > 0 {
		for _, field := range fields {
			for elem := range strings.SplitSeq(field, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(name, "for") {
						hops = append(hops, forwardedNode(value))
					}
				}
			}
		}
		return hops
	}
	for _, field := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(field, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				hops = append(hops, forwardedNode(hop))
			}
		}
	}
	return hops
}

// forwardedNode strips the quotes, brackets and port of a node:
// "[2001:db8::1]:4711" gives 2001:db8::1, 192.0.2.43:80 gives 192.0.2.43.
func forwardedNode(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().String()
	}
	return strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
}
