package wstest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy is a proxy server on 127.0.0.1 for tests: an HTTP CONNECT proxy,
// over TLS when started with a tls.Config, or a SOCKS5 proxy. It records
// every tunnel asked for, and stops when the test ends.
type Proxy struct {
	// Addr is the proxy's "127.0.0.1:port".
	Addr string

	route func(target string) string
	user  string // SOCKS5: the user name and password required, if any
	pass  string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	seen  []ProxyRequest // guarded by mu
	conns map[net.Conn]struct{}
}

// ProxyRequest is a tunnel a client asked a Proxy for.
type ProxyRequest struct {
	// Target is the "host:port" asked for.
	Target string
	// Auth is the Proxy-Authorization field of a CONNECT request, or
	// "user:password" of a SOCKS5 client that authenticated.
	Auth string
}

// StartConnectProxy starts an HTTP CONNECT proxy (RFC 9110 §9.3.6) on
// 127.0.0.1, over TLS with tlsConf when it is not nil (an https:// proxy).
// route maps the target asked for to the address dialled (nil: the target
// itself), so that tests can use names that resolve nowhere.
func StartConnectProxy(t testing.TB, tlsConf *tls.Config, route func(target string) string) *Proxy {
	t.Helper()
	p := listenProxy(t, route)
	if tlsConf != nil {
		p.ln = tls.NewListener(p.ln, tlsConf)
	}
	p.serve(t, p.connect)
	return p
}

// StartSOCKS5Proxy starts a SOCKS5 proxy (RFC 1928) on 127.0.0.1 that
// tunnels CONNECT requests. With user not empty it requires that user
// name and password (RFC 1929); otherwise it requires no authentication.
// route is as for StartConnectProxy.
func StartSOCKS5Proxy(t testing.TB, user, pass string, route func(target string) string) *Proxy {
	t.Helper()
	p := listenProxy(t, route)
	p.user, p.pass = user, pass
	p.serve(t, p.socks5)
	return p
}

func listenProxy(t testing.TB, route func(string) string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("wstest: proxy: %v", err)
	}
	return &Proxy{Addr: ln.Addr().String(), route: route, ln: ln, conns: map[net.Conn]struct{}{}}
}

// Requests returns the tunnels asked for so far, in order.
func (p *Proxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRequest(nil), p.seen...)
}

func (p *Proxy) record(r ProxyRequest) {
	p.mu.Lock()
	p.seen = append(p.seen, r)
	p.mu.Unlock()
}

// serve accepts connections and runs handle on each until the test ends;
// the cleanup closes them all and waits for their goroutines.
func (p *Proxy) serve(t testing.TB, handle func(net.Conn)) {
	p.wg.Go(func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.conns == nil { // stopping
				p.mu.Unlock()
				c.Close()
				return
			}
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() {
				defer func() {
					p.mu.Lock()
					delete(p.conns, c)
					p.mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.conns = nil
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// dial opens the connection to target, through route.
func (p *Proxy) dial(target string) (net.Conn, error) {
	if p.route != nil {
		target = p.route(target)
	}
	return net.Dial("tcp", target)
}

// connect serves one CONNECT request.
func (p *Proxy) connect(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.record(ProxyRequest{Target: req.RequestURI, Auth: req.Header.Get("Proxy-Authorization")})
	up, err := p.dial(req.RequestURI)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		return
	}
	relay(c, br, up)
}

// BasicAuth returns the Proxy-Authorization (or Authorization) value of
// Basic authentication with user and pass.
func BasicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// relay copies both ways between the client c (whose buffered bytes are
// in br) and up, until either side closes; it closes up.
func relay(c net.Conn, br io.Reader, up net.Conn) {
	defer up.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, br)
		up.Close() // the client left: tell the server
	}()
	_, _ = io.Copy(c, up)
	c.Close() // the server left: stop the other copy
	<-done
}

// errSOCKS ends a SOCKS5 exchange that the proxy refuses.
var errSOCKS = errors.New("wstest: socks5: refused")

// socks5 serves one SOCKS5 client: method selection, user/password
// authentication when required, and a CONNECT request (RFC 1928 §3-§6,
// RFC 1929 §2).
func (p *Proxy) socks5(c net.Conn) {
	br := bufio.NewReader(c)
	auth, err := p.socksAuth(c, br)
	if err != nil {
		return
	}
	target, err := socksRequest(br)
	if err != nil {
		_, _ = c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return
	}
	p.record(ProxyRequest{Target: target, Auth: auth})
	up, err := p.dial(target)
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	if _, err := c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0}); err != nil {
		up.Close()
		return
	}
	relay(c, br, up)
}

// socksAuth runs method selection and, when the proxy has a user,
// RFC 1929 authentication. It returns "user:password" or "".
func (p *Proxy) socksAuth(c net.Conn, br *bufio.Reader) (string, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil || head[0] != 5 {
		return "", errSOCKS
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return "", errSOCKS
	}
	want := byte(0) // no authentication
	if p.user != "" {
		want = 2 // user/password
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		_, _ = c.Write([]byte{5, 0xff})
		return "", errSOCKS
	}
	if _, err := c.Write([]byte{5, want}); err != nil || want == 0 {
		return "", err
	}
	ver, err := br.ReadByte()
	if err != nil || ver != 1 {
		return "", errSOCKS
	}
	user, err1 := readSOCKSString(br)
	pass, err2 := readSOCKSString(br)
	if err1 != nil || err2 != nil {
		return "", errSOCKS
	}
	if user != p.user || pass != p.pass {
		_, _ = c.Write([]byte{1, 1})
		return "", errSOCKS
	}
	_, err = c.Write([]byte{1, 0})
	return user + ":" + pass, err
}

// readSOCKSString reads a length-prefixed string.
func readSOCKSString(br *bufio.Reader) (string, error) {
	n, err := br.ReadByte()
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return string(b), err
}

// socksRequest reads a CONNECT request and returns its "host:port".
func socksRequest(br *bufio.Reader) (string, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(br, head); err != nil || head[0] != 5 || head[1] != 1 {
		return "", errSOCKS
	}
	var host string
	switch head[3] {
	case 1, 4: // IPv4, IPv6
		ip := make(net.IP, 4)
		if head[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(br, ip); err != nil {
			return "", err
		}
		host = ip.String()
	case 3: // a domain name, resolved by the proxy
		name, err := readSOCKSString(br)
		if err != nil {
			return "", err
		}
		host = name
	default:
		return "", errSOCKS
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(br, port); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port)))), nil
}
