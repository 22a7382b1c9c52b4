package ws

import (
	"bytes"
	"net/http"
	"slices"

	"github.com/gobwas/httphead"
)

// This file holds the HTTP/1.1 syntax that the server (Upgrader,
// HTTPUpgrader) and the client (Dialer) share: tokens, field lines and
// values, lists, extension options and the HTTP version. The helpers take
// a string or a []byte, whichever the caller holds, so that neither side
// converts (and allocates) to call them.

// isToken reports whether s is a non-empty token (RFC 9110 §5.6.2).
func isToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := range len(s) {
		if !httphead.OctetTypes[s[i]].IsToken() {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds no control character other than
// HTAB: none may appear in a field value (RFC 9110 §5.5), and CR and LF
// there would end the field, or the head, early.
func validFieldValue[T string | []byte](v T) bool {
	for i := range len(v) {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isVisible reports whether s holds neither whitespace nor control
// characters: only VCHAR and obs-text, as a request-target or a Host value
// must (RFC 9112 §3.2, RFC 9110 §7.2).
func isVisible[T string | []byte](s T) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// foldEqual reports whether a equals the ASCII string s without regard to
// ASCII case, as field names and most tokens compare (RFC 9110 §5.1).
func foldEqual[T string | []byte](a T, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// isDigit reports whether c is an ASCII decimal digit. httphead's
// IntFromASCII is not used anywhere in this package: it takes ':' to '?'
// for digits.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseHTTPVersion parses an HTTP-version, exactly "HTTP/" DIGIT "." DIGIT
// (RFC 9112 §2.3). Unlike httphead.ParseVersion, it takes neither more
// than one digit on a side nor the punctuation IntFromASCII reads as
// digits.
func parseHTTPVersion(b []byte) (major, minor int, ok bool) {
	if len(b) != len("HTTP/1.1") || string(b[:5]) != "HTTP/" || b[6] != '.' || !isDigit(b[5]) || !isDigit(b[7]) {
		return 0, 0, false
	}
	return int(b[5] - '0'), int(b[7] - '0'), true
}

// trimFieldSpace removes the optional whitespace (SP, HTAB) around a field
// value or list element (RFC 9110 §5.6.3).
func trimFieldSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cutField splits a field line at its first colon into the name, as it
// stands, and the value without the whitespace around it (RFC 9112 §5).
// ok is false when the line has no colon. The caller checks the parts.
func cutField(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil, false
	}
	return line[:i], trimFieldSpace(line[i+1:]), true
}

// hasToken reports whether the comma-separated token list v holds tok,
// compared without regard to ASCII case (RFC 9110 §5.6.1, §7.6.1). It
// returns false when v is not a well-formed token list.
func hasToken(v []byte, tok string) bool {
	found := false
	ok := scanTokens(v, func(t []byte) bool {
		found = foldEqual(t, tok)
		return !found
	})
	return ok && found
}

// hasListElement reports whether the comma-separated list v holds an element
// equal to elem without regard to ASCII case. Unlike hasToken it accepts
// elements that are not tokens, such as "HTTP/2.0".
func hasListElement(v []byte, elem string) bool {
	for len(v) > 0 {
		var e []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			e, v = v[:i], v[i+1:]
		} else {
			e, v = v, nil
		}
		if foldEqual(trimFieldSpace(e), elem) {
			return true
		}
	}
	return false
}

// The list scanners below are httphead's, with one difference: they take
// HTAB for whitespace, as the OWS of RFC 9110 §5.6.1 allows
// (OWS = *( SP / HTAB )). httphead's octet table leaves HTAB out, so that
// its lexer fails on "keep-alive,\tUpgrade". Every list of this package
// goes through them, on both sides.

// scanTokens calls it for each token of the comma-separated list v, until
// it returns false, and reports whether v is a well-formed token list (see
// httphead.ScanTokens).
func scanTokens(v []byte, it func(tok []byte) bool) bool {
	return httphead.ScanTokens(tabsToSpaces(v), it)
}

// scanOptions calls it for each option and parameter of the
// comma-separated option list v and reports whether v is well-formed (see
// httphead.ScanOptions).
func scanOptions(v []byte, it func(index int, option, attribute, value []byte) httphead.Control) bool {
	return httphead.ScanOptions(tabsToSpaces(v), it)
}

// parseOptions appends the options of the list v to opts (see
// httphead.ParseOptions). They alias v, or a copy of it.
func parseOptions(v []byte, opts []httphead.Option) ([]httphead.Option, bool) {
	return httphead.ParseOptions(tabsToSpaces(v), opts)
}

// tabsToSpaces returns v with every HTAB outside quoted-strings turned into
// a space, for httphead's lexer; HTABs inside a quoted-string are data and
// stay. It returns v itself when v holds no HTAB, and a copy otherwise: v
// is never written to, since it may alias the caller's request buffer
// (UpgradeBuffer), a value a hook sees (OnHeader, Extension) or the bytes
// already handed out.
func tabsToSpaces(v []byte) []byte {
	if bytes.IndexByte(v, '\t') < 0 {
		return v
	}
	out := make([]byte, len(v))
	quoted := false
	for i, c := range v {
		switch {
		case !quoted && c == '\t':
			c = ' '
		case !quoted && c == '"':
			quoted = true
		case quoted && c == '"' && v[i-1] != '\\':
			// httphead.ScanUntil's rule for the closing quote.
			quoted = false
		}
		out[i] = c
	}
	return out
}

// writableOption reports whether o can be written in a
// Sec-WebSocket-Extensions field as it is: name and parameter names are
// tokens and values hold no control characters. An option goes on the
// wire, and a CR or LF there would let it forge header fields.
func writableOption(o httphead.Option) bool {
	if !isToken(o.Name) {
		return false
	}
	ok := true
	o.Parameters.ForEach(func(k, v []byte) bool {
		ok = isToken(k) && validFieldValue(v)
		return ok
	})
	return ok
}

// appendOptions appends opts in Sec-WebSocket-Extensions syntax
// (RFC 6455 §9.1), the way the server answers: "a; p=1, b". Parameter
// values that are not tokens are quoted. The options must be writable (see
// writableOption).
func appendOptions(dst []byte, opts []httphead.Option) []byte {
	return appendOptionList(dst, opts, ", ", "; ")
}

// appendOptionList appends opts as appendOptions does, with listSep
// between options and paramSep before each parameter.
func appendOptionList(dst []byte, opts []httphead.Option, listSep, paramSep string) []byte {
	for i := range opts {
		if i > 0 {
			dst = append(dst, listSep...)
		}
		dst = append(dst, opts[i].Name...)
		opts[i].Parameters.ForEach(func(k, v []byte) bool {
			dst = append(dst, paramSep...)
			dst = append(dst, k...)
			if len(v) > 0 {
				dst = append(dst, '=')
				dst = appendParamValue(dst, v)
			}
			return true
		})
	}
	return dst
}

// appendParamValue appends v as a token or, when it is not one, as a
// quoted-string (RFC 9110 §5.6.4).
func appendParamValue(dst, v []byte) []byte {
	if isToken(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// cloneOptions moves opts, in place, onto copies of their bytes made in one
// allocation, so that they outlive the buffer they were parsed from, and
// returns them with the capacity cut to the length. Each option's bytes
// are capped too: appending to one cannot overwrite the next. It returns
// nil for no options.
func cloneOptions(opts []httphead.Option) []httphead.Option {
	if len(opts) == 0 {
		return nil
	}
	n := 0
	for _, o := range opts {
		n += o.Size()
	}
	mem := make([]byte, n)
	for i, o := range opts {
		s := o.Size()
		opts[i] = o.Copy(mem[:s:s])
		mem = mem[s:]
	}
	return opts[:len(opts):len(opts)]
}

// appendField appends the field line "name: value" and its CRLF. name must
// be a token; control characters in value are made harmless (see
// appendFieldValue).
func appendField[T string | []byte](dst []byte, name string, value T) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = appendFieldValue(dst, value)
	return append(dst, "\r\n"...)
}

// appendFieldValue appends v with every control character but HTAB turned
// into a space, as net/http does with CR and LF, so that a value cannot
// end the field or the head early.
func appendFieldValue[T string | []byte](dst []byte, v T) []byte {
	if validFieldValue(v) {
		return append(dst, v...)
	}
	for i := range len(v) {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// appendHeaderFields appends the fields of h, sorted by name so that the
// output is the same every time, and skipping names that are not tokens
// (net/http skips them too). It allocates only for more than 16 names.
func appendHeaderFields(dst []byte, h http.Header) []byte {
	if len(h) == 0 {
		return dst
	}
	var buf [16]string
	keys := buf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isToken(k) {
			continue
		}
		for _, v := range h[k] {
			dst = appendField(dst, k, v)
		}
	}
	return dst
}
