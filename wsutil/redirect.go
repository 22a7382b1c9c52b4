package wsutil

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-ws/sluice/ws"
)

// redirects follows the redirects of one Dial.
type redirects struct {
	opts   *DialOptions
	first  *url.URL    // the URL given to Dial
	n      int         // redirects followed so far
	header http.Header // the request fields of the next attempt, before cookies
	host   string      // the Host override of the next attempt
	left   bool        // a redirect has left first's host: credentials stay behind
}

// follow decides what to do after the attempt at u failed with err: it
// returns the URL to try next, or the error Dial returns.
func (r *redirects) follow(u *url.URL, err error) (*url.URL, error) {
	var he *ws.HandshakeError
	if !errors.As(err, &he) || !isRedirect(he.StatusCode) || r.opts.MaxRedirects <= 0 {
		return nil, err
	}
	if r.n >= r.opts.MaxRedirects {
		return nil, fmt.Errorf("%w (%d): %w", ErrTooManyRedirects, r.opts.MaxRedirects, err)
	}
	loc := he.Header.Get("Location")
	if loc == "" {
		return nil, err
	}
	next, perr := u.Parse(loc)
	if perr != nil {
		return nil, fmt.Errorf("%w: redirect Location: %w", ws.ErrBadURL, errors.Unwrap(perr))
	}
	switch strings.ToLower(next.Scheme) {
	case "http":
		next.Scheme = "ws"
	case "https":
		next.Scheme = "wss"
	}
	next.Fragment, next.RawFragment = "", "" // RFC 6455 §3: no fragments
	if isSecure(u) && !isSecure(next) {
		return nil, fmt.Errorf("%w: %s to %s", ErrRedirectInsecure, u.Redacted(), next.Redacted())
	}
	r.n++
	if !r.left && !strings.EqualFold(hostPort(next), hostPort(r.first)) {
		r.left = true
		r.header = r.header.Clone()
		for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
			r.header.Del(k)
		}
		r.host = ""
	}
	if next.User == nil && !r.left {
		next.User = r.first.User
	}
	if r.left {
		next.User = nil
	}
	return next, nil
}

// isRedirect reports whether status is a redirect Dial may follow.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// isSecure reports whether u is a wss (or https) URL.
func isSecure(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, "wss") || strings.EqualFold(u.Scheme, "https")
}

// hostPort returns u's host and port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if isSecure(u) {
			port = "443"
		}
	}
	return u.Hostname() + ":" + port
}
