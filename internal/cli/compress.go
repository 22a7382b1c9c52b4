package cli

import (
	"errors"
	"math"
	"strings"

	"github.com/gobwas/httphead"
	"github.com/sluice-ws/sluice/wsflate"
)

// deflateConfig is what the -compress* flags of serve set.
type deflateConfig struct {
	on        bool
	level     int
	threshold byteSize
}

// errLevelZero refuses -compress-level 0: in compress/flate and zlib it
// means "store, do not compress", which wsflate does not do (there 0 is
// the default level). Turning compression off is -compress=false.
var errLevelZero = errors.New("0 is not a level here; -compress=false turns compression off")

// extension returns the permessage-deflate configuration of an endpoint,
// or nil when compression is off. Its window fields are left at zero, so
// that Negotiate honours whatever a conformant client offers (RFC 7692
// §7.1): context takeover both ways unless the client asks otherwise, any
// server_max_window_bits from 8 to 15, and client_max_window_bits with or
// without a value. noServerTakeover makes the server compress every
// message on its own (server_no_context_takeover in every answer), which
// lets a broadcast be compressed once for all its receivers (see
// chatDeflate).
func (d deflateConfig) extension(noServerTakeover bool) *wsflate.Extension {
	if !d.on {
		return nil
	}
	// Threshold 0 means wsflate.DefaultThreshold and a negative value
	// "compress everything"; on the command line 0 says the latter.
	threshold := -1
	if d.threshold > 0 {
		threshold = int(min(int64(d.threshold), math.MaxInt))
	}
	return &wsflate.Extension{
		ServerNoContextTakeover: noServerTakeover,
		Level:                   d.level,
		Threshold:               threshold,
	}
}

// check reports whether the flags describe a usable configuration: it
// fails with errLevelZero or with wsflate.ErrLevel.
func (d deflateConfig) check() error {
	if !d.on {
		return nil
	}
	if d.level == 0 {
		return errLevelZero
	}
	// Negotiate silently declines every offer for an invalid Extension:
	// refuse to start instead.
	return d.extension(false).Check()
}

// formatExtensions returns the extensions a handshake accepted as they
// read in Sec-WebSocket-Extensions, or "none".
func formatExtensions(accepted []httphead.Option) string {
	if len(accepted) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, o := range accepted {
		if i > 0 {
			b.WriteString(", ")
		}
		if p, err := wsflate.ParseParams(o); err == nil {
			b.WriteString(p.String())
			continue
		}
		b.Write(o.Name)
		o.Parameters.ForEach(func(k, v []byte) bool {
			b.WriteString("; ")
			b.Write(k)
			if len(v) > 0 {
				b.WriteByte('=')
				b.Write(v)
			}
			return true
		})
	}
	return b.String()
}
