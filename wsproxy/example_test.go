package wsproxy_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsproxy"
)

// A Dialer that takes its proxy from HTTP_PROXY, HTTPS_PROXY and NO_PROXY,
// and speaks SOCKS5 when they name a socks5:// proxy
// (HTTPS_PROXY=socks5://user:password@127.0.0.1:1080). It needs a network,
// so it only compiles.
func ExampleSOCKS5() {
	d := &ws.Dialer{Proxy: http.ProxyFromEnvironment, ProxyTunnel: wsproxy.SOCKS5}
	nc, _, err := d.Dial(context.Background(), "wss://example.com/socket")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
}
