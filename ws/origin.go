package ws

import (
	"bytes"
	"path"
	"strconv"
	"strings"
)

// Origin checks for Upgrader.CheckOrigin and HTTPUpgrader.CheckOrigin.
//
// A browser sends the origin of the page that opens a WebSocket in the
// Origin field, and lets any page open one to any host with the user's
// cookies. A server that authenticates by cookie must therefore check the
// origin, or another site can act as the user: cross-site WebSocket
// hijacking (RFC 6455 §10.2). Clients other than browsers usually send no
// Origin, and the check is not called for them.

// SameOrigin accepts an origin whose host and port are those of the Host
// field: the page was served by this server. Host names compare without
// regard to case, and a missing port is the default one of the origin's
// scheme (80 for http and ws, 443 for https and wss). The opaque origin
// "null" (sandboxed frames, file: pages) and anything that is not
// "scheme://host[:port]" are refused with ErrHandshakeOrigin.
//
// SameOrigin is the check used when CheckOrigin is nil. It does not
// allocate.
func SameOrigin(origin, host []byte) error {
	if sameOrigin(origin, host) {
		return nil
	}
	return ErrHandshakeOrigin
}

// AnyOrigin accepts every origin. Use it only for endpoints that do not
// rely on cookies or other ambient credentials, since it lets any web page
// connect on the user's behalf.
func AnyOrigin(origin, host []byte) error { return nil }

// AllowOrigins returns an origin check that accepts the same origin (see
// SameOrigin) and origins matching one of patterns with path.Match, without
// regard to case. A pattern without "://" is matched against the origin's
// host, port included when the origin has one ("*.example.com",
// "localhost:*"); a pattern with "://" against the whole origin
// ("https://*.example.com"). Other origins, and "null", are refused with
// ErrHandshakeOrigin.
//
// AllowOrigins panics if a pattern is malformed (path.ErrBadPattern): the
// patterns are the program's, not the peer's.
func AllowOrigins(patterns ...string) func(origin, host []byte) error {
	ps := make([]string, len(patterns))
	for i, p := range patterns {
		p = strings.ToLower(p)
		if _, err := path.Match(p, ""); err != nil {
			panic("ws: AllowOrigins: malformed pattern " + strconv.Quote(patterns[i]))
		}
		ps[i] = p
	}
	return func(origin, host []byte) error {
		if sameOrigin(origin, host) {
			return nil
		}
		scheme, hostport, ok := splitOrigin(origin)
		if !ok {
			return ErrHandshakeOrigin
		}
		h := strings.ToLower(string(hostport))
		full := strings.ToLower(string(scheme)) + "://" + h
		for _, p := range ps {
			target := h
			if strings.Contains(p, "://") {
				target = full
			}
			if ok, _ := path.Match(p, target); ok {
				return nil
			}
		}
		return ErrHandshakeOrigin
	}
}

// sameOrigin reports whether origin names the host and port of the Host
// field value host.
func sameOrigin(origin, host []byte) bool {
	scheme, hostport, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	oname, oport, ok := splitHostPort(hostport)
	if !ok {
		return false
	}
	hname, hport, ok := splitHostPort(host)
	if !ok || !bytes.EqualFold(oname, hname) {
		return false
	}
	def := defaultPort(scheme)
	if oport < 0 {
		oport = def
	}
	if hport < 0 {
		hport = def
	}
	return oport == hport
}

// splitOrigin splits a serialised origin, "scheme://host[:port]"
// (RFC 6454 §6.2). It tolerates a path, query or fragment after the host,
// which some clients send, but not user information, which an origin never
// has and which could disguise the host.
func splitOrigin(origin []byte) (scheme, hostport []byte, ok bool) {
	i := bytes.Index(origin, []byte("://"))
	if i <= 0 {
		return nil, nil, false
	}
	scheme, hostport = origin[:i], origin[i+3:]
	if j := bytes.IndexAny(hostport, "/?#"); j >= 0 {
		hostport = hostport[:j]
	}
	if len(hostport) == 0 || bytes.IndexByte(hostport, '@') >= 0 {
		return nil, nil, false
	}
	return scheme, hostport, true
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". port is
// -1 when absent or empty; ok is false for a malformed port or an empty
// host.
func splitHostPort(hp []byte) (name []byte, port int, ok bool) {
	name, port = hp, -1
	var p []byte
	if len(hp) > 0 && hp[0] == '[' {
		j := bytes.IndexByte(hp, ']')
		if j < 0 {
			return nil, 0, false
		}
		name, p = hp[:j+1], hp[j+1:]
		if len(p) > 0 {
			if p[0] != ':' {
				return nil, 0, false
			}
			p = p[1:]
		}
	} else if j := bytes.LastIndexByte(hp, ':'); j >= 0 {
		name, p = hp[:j], hp[j+1:]
	}
	if len(name) == 0 {
		return nil, 0, false
	}
	if len(p) == 0 {
		return name, -1, true
	}
	if len(p) > 5 {
		return nil, 0, false
	}
	port = 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return nil, 0, false
		}
		port = port*10 + int(c-'0')
	}
	return name, port, port <= 65535
}

// defaultPort returns the port a URL of scheme means when it names none, or
// -1 when the scheme has no default.
func defaultPort(scheme []byte) int {
	switch {
	case bytes.EqualFold(scheme, []byte("http")), bytes.EqualFold(scheme, []byte("ws")):
		return 80
	case bytes.EqualFold(scheme, []byte("https")), bytes.EqualFold(scheme, []byte("wss")):
		return 443
	}
	return -1
}
