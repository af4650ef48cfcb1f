package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/view"
	"github.com/e6coord/e6coord/metrics"
)

// Handler returns the daemon's HTTP handler: a mux of its own with
// /healthz, /readyz, /metrics and /v1/state.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.serveHealthz)
	mux.HandleFunc("GET /readyz", d.serveReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/state", d.serveState)
	return mux
}

// registry returns a registry of the daemon's own with the collector of
// its coordinator (the fleet's pins counted in the store, the store's calls
// timed), and the Go runtime's and the process's collectors.
func (d *Daemon) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewCollector(d.coord, metrics.Options{
			Pins: func(ctx context.Context) (cache.PinCounts, error) {
				return d.store.Count(ctx, d.scope())
			},
			Store:   d.storeMetrics,
			Version: d.cfg.Version,
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// check is one line of /healthz or /readyz: its name, and why it fails
// ("" when it passes).
type check struct{ name, failure string }

// liveness is the check of /healthz: the loop began an iteration within
// stallAfter. It asks neither the store nor the engine.
func (d *Daemon) liveness() []check {
	since := time.Since(time.Unix(0, d.progress.Load()))
	c := check{name: "loop"}
	if since > d.stallAfter() {
		c.failure = fmt.Sprintf("no progress for %v", since.Round(time.Millisecond))
	}
	return []check{c}
}

// readiness are the checks of /readyz: the colour is trusted, the store
// answers, and the daemon is not stopping.
func (d *Daemon) readiness() []check {
	colour := check{name: "colour"}
	if !d.coord.Strategy().Valid() {
		colour.failure = "unknown"
		if d.coord.Snapshot().Active.Valid() {
			colour.failure = "not trusted"
		}
		if r := d.lastFailure.Load(); r != nil && *r != "" {
			colour.failure += " (" + *r + ")"
		}
	}
	store := check{name: "store"}
	switch st := d.coord.Stats(); {
	case st.Store != coordinator.StoreUp:
		store.failure = st.Store.String()
		if st.Store == coordinator.StoreUnreachable && st.LastStoreError != "" {
			store.failure += " (" + st.LastStoreError + ")"
		}
	case st.WatchDenied:
		store.failure = "denied (subscription)"
	}
	shutdown := check{name: "shutdown"}
	if d.stopping.Load() {
		shutdown.failure = "stopping"
	}
	return []check{colour, store, shutdown}
}

func (d *Daemon) serveHealthz(w http.ResponseWriter, r *http.Request) {
	serveChecks(w, r, "healthz", d.liveness())
}

func (d *Daemon) serveReadyz(w http.ResponseWriter, r *http.Request) {
	serveChecks(w, r, "readyz", d.readiness())
}

// serveChecks answers 200 "ok" when every check passes and 503 when one
// fails, in the form of Kubernetes' health endpoints: with ?verbose, or on
// failure, one line per check ("[+]store ok", "[-]store failed: denied")
// and a last line saying whether they passed.
func serveChecks(w http.ResponseWriter, r *http.Request, what string, checks []check) {
	failed := false
	var b strings.Builder
	for _, c := range checks {
		if c.failure == "" {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		} else {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %s\n", c.name, c.failure)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, verbose := r.URL.Query()["verbose"]
	switch {
	case failed:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), what)
	case verbose:
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), what)
	default:
		fmt.Fprintln(w, "ok")
	}
}

// serveState answers the scope's state as the JSON of [view.State], with
// the fleet's pins counted in the store (as last counted, when the store
// does not answer).
func (d *Daemon) serveState(w http.ResponseWriter, r *http.Request) {
	v := stateOf(d.coord, d.countPins(r.Context()), d.address)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// stateOf returns the view of c's local record and store health, with the
// fleet's pins as counted by the caller; address is the store's, redacted.
// The colour is stale by [coordinator.Coordinator.Stale], the rule
// `e6coord status` applies to the record it reads.
func stateOf(c *coordinator.Coordinator, pins cache.PinCounts, address string) view.State {
	st := c.Stats()
	store := view.Store{State: st.Store.String(), LastErrorKind: st.LastStoreError, Address: address}
	if !st.StoreSince.IsZero() {
		since := st.StoreSince.UTC()
		store.StateSince = &since
	}
	return view.Of(c.Snapshot(), pins, store, c.Stale())
}
