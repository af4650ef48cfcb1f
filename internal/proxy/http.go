package proxy

import (
	"fmt"
	"net/http"
	"sync"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/metrics"
)

// Handler returns the proxy's HTTP handler, a mux of its own:
//
//	/healthz   200 while the proxy serves
//	/readyz    200 once it has an engine connection whose colour is known,
//	           until it drains or closes; 503 with the reason otherwise
//	/metrics   Prometheus metrics: the gRPC calls of its clients
//	           (grpc_server_*) and its own to the engine (grpc_client_*,
//	           one per attempt), by method and code, from the
//	           grpc-ecosystem middleware; the coordinator's figures
//	           (e6coord_*, package metrics) once there is an engine
//	           connection; the Go runtime's and the process's
func (p *Proxy) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if p.isClosed() {
			http.Error(w, "closed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := p.notReady(); reason != "" {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{}))
	return mux
}

// grpcMetrics are the gRPC metrics of the proxy's server and of its
// calls to the engine.
type grpcMetrics struct {
	server *grpcprom.ServerMetrics
	client *grpcprom.ClientMetrics
}

func newGRPCMetrics() grpcMetrics {
	return grpcMetrics{server: grpcprom.NewServerMetrics(), client: grpcprom.NewClientMetrics()}
}

// newRegistry returns the registry of /metrics.
func (p *Proxy) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		p.grpcMetrics.server,
		p.grpcMetrics.client,
		&coordCollector{p: p},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// notReady returns why the proxy is not ready, "" if it is.
func (p *Proxy) notReady() string {
	p.mu.Lock()
	draining, closed := p.draining, p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return "closed"
	case draining:
		return "draining"
	}
	conn := p.Conn()
	if conn == nil {
		return "no engine connection yet: no probe credential (--user) and no client authenticated"
	}
	if !conn.Coordinator().Strategy().Valid() {
		return "the engine's colour is not known"
	}
	return ""
}

// coordCollector is the collector of package metrics for the engine
// connection of the moment: it reports nothing while there is none. It is
// an unchecked collector (it describes nothing), since the connection
// comes later.
type coordCollector struct {
	p *Proxy

	mu   sync.Mutex
	conn *client.Conn
	col  *metrics.Collector
}

func (c *coordCollector) Describe(chan<- *prometheus.Desc) {}

func (c *coordCollector) Collect(ch chan<- prometheus.Metric) {
	conn := c.p.Conn()
	if conn == nil {
		return
	}
	c.mu.Lock()
	if c.conn != conn {
		c.conn, c.col = conn, metrics.NewCollector(conn.Coordinator(), metrics.Options{Replays: c.p.Replays})
	}
	col := c.col
	c.mu.Unlock()
	col.Collect(ch)
}
