// Package wsproxy speaks the proxy protocols that package ws leaves out,
// so that only the programs that use them compile them: SOCKS5
// (RFC 1928), with username and password authentication (RFC 1929), on
// golang.org/x/net/proxy.
//
// Package ws itself tunnels through http:// and https:// proxies with
// CONNECT. Give a Dialer (or wsutil.DialOptions) SOCKS5 as its
// ProxyTunnel, and a Proxy that may answer with a socks5:// or socks5h://
// URL, such as http.ProxyFromEnvironment with ALL_PROXY-style settings in
// HTTPS_PROXY:
//
//	d := &ws.Dialer{Proxy: http.ProxyFromEnvironment, ProxyTunnel: wsproxy.SOCKS5}
//
// # Concurrency
//
// SOCKS5 may be called from any number of goroutines at once.
package wsproxy
