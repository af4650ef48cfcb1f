package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/cache/memory"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/metrics"
)

// A library user exports a Conn's coordinator on a registry of their own,
// next to the Go and process collectors, with the store calls timed.
func ExampleNewCollector() {
	engine, err := enginetest.NewServer(enginetest.Options{Start: enginetest.Blue})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	// A Redis store in production (cache/redis); the Conn does not close a
	// store it is given.
	shared := memory.New(memory.Options{})
	defer shared.Close()
	store, storeMetrics := metrics.InstrumentStore(shared)

	conn, err := client.Open(client.Config{Addr: engine.Addr(), User: "alice", Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	coord := conn.Coordinator()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewCollector(coord, metrics.Options{
			Store:   storeMetrics,
			Replays: func() uint64 { return conn.Stats().Replays },
			// The fleet's pins, not only this process's.
			Pins: func(ctx context.Context) (cache.PinCounts, error) {
				return store.Count(ctx, coord.Config().Scope)
			},
		}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	if err := conn.Connect(context.Background()); err != nil {
		log.Fatal(err)
	}

	// What a scrape of /metrics shows, in part.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "e6coord_active_colour") || strings.HasPrefix(line, "e6coord_store_up") ||
			strings.HasPrefix(line, "e6coord_switches_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// e6coord_active_colour{colour="blue"} 1
	// e6coord_active_colour{colour="green"} 0
	// e6coord_store_up 1
	// e6coord_switches_total{from="blue",to="green"} 0
	// e6coord_switches_total{from="green",to="blue"} 0
}
