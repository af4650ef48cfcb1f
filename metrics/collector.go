package metrics

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
)

// DefaultPinsTimeout is the default of [Options.PinsTimeout].
const DefaultPinsTimeout = 250 * time.Millisecond

// Options configures a [Collector]. The zero value is ready to use: every
// field documents its default.
type Options struct {
	// Replays returns the number of queries replayed after a rejection,
	// for e6coord_replays_total: with a client.Conn,
	// func() uint64 { return conn.Stats().Replays }. It is called at every
	// scrape, maybe by concurrent scrapes at once, and must not block.
	// Default nil: the series reads 0.
	Replays func() uint64

	// Pins returns the live pins of the fleet per colour, for
	// e6coord_pins_in_flight: with a store st and the coordinator c,
	// func(ctx context.Context) (cache.PinCounts, error) { return st.Count(ctx, c.Config().Scope) }.
	// It is called at every scrape, maybe by concurrent scrapes at once,
	// with a context that expires after PinsTimeout, which it must honour
	// (a store's Count does); when it fails, the series report
	// the last counts it returned (zeros before the first). Default nil:
	// the pins this process holds, [coordinator.Coordinator.Pins].
	Pins func(ctx context.Context) (cache.PinCounts, error)
	// PinsTimeout bounds a call of Pins. Default: DefaultPinsTimeout,
	// 250 milliseconds.
	PinsTimeout time.Duration

	// Store is the record of the store calls, from [InstrumentStore], for
	// e6coord_store_command_duration_seconds and
	// e6coord_store_errors_total by op. Default nil: the duration series
	// exist with no observations, and e6coord_store_errors_total has the
	// one series op="all", the coordinator's count of failed store calls
	// ([coordinator.Stats].StoreErrors).
	Store *StoreMetrics

	// Version is the version label of e6coord_build_info. Default: the
	// version of the module github.com/e6coord/e6coord in the binary's
	// build information (runtime/debug.ReadBuildInfo), the main module's
	// when e6coord is the main module; "unknown" when there is none.
	Version string
}

// Collector is a [prometheus.Collector] of one coordinator's state and
// counters, read from it at every scrape. Make one with [NewCollector] and
// register it on a registry of your own; the package registers nothing. It
// is safe for concurrent use.
//
// To export several coordinators from one registry, register each
// Collector through [prometheus.WrapRegistererWith] with a label that tells
// them apart (the engine, say): their series have the same names.
type Collector struct {
	c       *coordinator.Coordinator
	opts    Options
	d       descs
	noStore *StoreMetrics // with no observations: reported when Options.Store is nil

	mu       sync.Mutex      // guards lastPins
	lastPins cache.PinCounts // the last counts Options.Pins returned
}

// descs are the descriptors of a Collector's series.
type descs struct {
	buildInfo, activeColour, pendingColour, trusted, generation    *prometheus.Desc
	switches, announcements, rejections, probes, replays, invalid  *prometheus.Desc
	detections, refreshes, withdrawals                             *prometheus.Desc
	storeErrors, storeUp, storeState, degraded, subscriptionDenied *prometheus.Desc
	reconnects, lastMessage, pins, adoptionLag, storeDuration      *prometheus.Desc
}

// NewCollector returns a Collector of c's figures. It does no I/O and
// registers nothing: register it with a registry's Register or
// MustRegister. c must not be nil.
func NewCollector(c *coordinator.Coordinator, opts Options) *Collector {
	if opts.PinsTimeout <= 0 {
		opts.PinsTimeout = DefaultPinsTimeout
	}
	if opts.Version == "" {
		opts.Version = e6coordVersion()
	}
	colour := []string{"colour"}
	op := []string{"op"}
	return &Collector{c: c, opts: opts, noStore: newStoreMetrics(), d: descs{
		buildInfo: prometheus.NewDesc("e6coord_build_info",
			"Always 1; the labels give the e6coord version and the Go version of the binary.",
			[]string{"version", "goversion"}, nil),
		activeColour: prometheus.NewDesc("e6coord_active_colour",
			"1 for the active colour of the local copy of the shared record, 0 for the other; both 0 while none is known.",
			colour, nil),
		pendingColour: prometheus.NewDesc("e6coord_pending_colour",
			"1 for a colour the engine announced that is not active yet, 0 for the other.",
			colour, nil),
		trusted: prometheus.NewDesc("e6coord_colour_trusted",
			"1 while new calls carry the active colour without a detection (neither unknown, rejected nor expired), else 0.",
			nil, nil),
		generation: prometheus.NewDesc("e6coord_generation",
			"Generation of the local copy of the shared record; 0 for none.",
			nil, nil),
		switches: prometheus.NewDesc("e6coord_switches_total",
			"Changes of the active colour seen by this process, by the colours switched from and to.",
			[]string{"from", "to"}, nil),
		announcements: prometheus.NewDesc("e6coord_announcements_total",
			"Colours announced by the engine that this process recorded as pending.",
			nil, nil),
		rejections: prometheus.NewDesc("e6coord_rejections_total",
			"Calls the engine rejected for their colour (status 456), by the colour they carried.",
			colour, nil),
		probes: prometheus.NewDesc("e6coord_probes_total",
			"Probe calls made to the engine.",
			nil, nil),
		replays: prometheus.NewDesc("e6coord_replays_total",
			"Queries replayed from prepare after the engine rejected their colour.",
			nil, nil),
		invalid: prometheus.NewDesc("e6coord_invalid_colours_total",
			"Colours that were not blue or green, from the engine or the store, ignored.",
			nil, nil),
		detections: prometheus.NewDesc("e6coord_detections_total",
			"Detections of the active colour this process ran as the fleet's prober.",
			nil, nil),
		refreshes: prometheus.NewDesc("e6coord_refreshes_total",
			"Re-confirmations of the active colour this process probed for the fleet before it expired.",
			nil, nil),
		withdrawals: prometheus.NewDesc("e6coord_withdrawals_total",
			"Pending colours this process dropped because the engine stopped announcing them.",
			nil, nil),
		storeErrors: prometheus.NewDesc("e6coord_store_errors_total",
			`Failed store calls, by operation; op="all" when the store is not instrumented.`,
			op, nil),
		storeUp: prometheus.NewDesc("e6coord_store_up",
			"1 while the store is up: it answered the first call, or, after a failure, the coordinator reached it again and settled with it; else 0.",
			nil, nil),
		storeState: prometheus.NewDesc("e6coord_store_state",
			"1 for the store's state as last seen (unknown, up, unreachable or denied), 0 for the others.",
			[]string{"state"}, nil),
		degraded: prometheus.NewDesc("e6coord_degraded",
			"1 from a failed store call until the coordinator has settled with the store again: the process serves from its local record.",
			nil, nil),
		subscriptionDenied: prometheus.NewDesc("e6coord_subscription_denied",
			"1 while the store refuses the change subscription and the record is polled instead, else 0.",
			nil, nil),
		reconnects: prometheus.NewDesc("e6coord_subscription_reconnects_total",
			"Change subscriptions made after the first, after the store's pushes were lost.",
			nil, nil),
		lastMessage: prometheus.NewDesc("e6coord_last_message_timestamp_seconds",
			"When the change subscription last delivered a record, in Unix seconds; 0 for never.",
			nil, nil),
		pins: prometheus.NewDesc("e6coord_pins_in_flight",
			"Queries pinned to each colour: the fleet's when the collector counts them in the store, else this process's.",
			colour, nil),
		adoptionLag: prometheus.NewDesc("e6coord_adoption_lag_seconds",
			"Time from a record's commit by another process to its adoption by this one, by the fleet's clock.",
			nil, nil),
		storeDuration: prometheus.NewDesc("e6coord_store_command_duration_seconds",
			"Duration of store calls, by operation.",
			op, nil),
	}}
}

// Describe sends the descriptors of every series the Collector exports.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := &col.d
	for _, desc := range []*prometheus.Desc{
		d.buildInfo, d.activeColour, d.pendingColour, d.trusted, d.generation,
		d.switches, d.announcements, d.rejections, d.probes, d.replays, d.invalid,
		d.detections, d.refreshes, d.withdrawals,
		d.storeErrors, d.storeUp, d.storeState, d.degraded, d.subscriptionDenied,
		d.reconnects, d.lastMessage, d.pins, d.adoptionLag, d.storeDuration,
	} {
		ch <- desc
	}
}

// Collect reads the coordinator's figures and sends every series. It does
// no I/O but the call of Options.Pins, bounded by PinsTimeout.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	d := &col.d
	st := col.c.Stats()
	rec := col.c.Snapshot()
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(d.buildInfo, 1, col.opts.Version, runtime.Version())
	for _, s := range cache.Strategies {
		gauge(d.activeColour, bool01(rec.Active == s), s.String())
		gauge(d.pendingColour, bool01(rec.Pending == s), s.String())
	}
	gauge(d.trusted, bool01(col.c.Strategy().Valid()))
	gauge(d.generation, float64(rec.Generation))

	for _, to := range cache.Strategies {
		counter(d.switches, st.SwitchesTo[to], to.Other().String(), to.String())
		counter(d.rejections, st.WrongStrategyOf[to], to.String())
	}
	counter(d.announcements, st.Announcements)
	counter(d.probes, st.Probes)
	var replays uint64
	if col.opts.Replays != nil {
		replays = col.opts.Replays()
	}
	counter(d.replays, replays)
	counter(d.invalid, st.InvalidStrategies)
	counter(d.detections, st.Detections)
	counter(d.refreshes, st.Refreshes)
	counter(d.withdrawals, st.Withdrawn)

	if sm := col.opts.Store; sm != nil {
		for op, name := range opNames {
			counter(d.storeErrors, sm.errors[op].Load(), name)
		}
	} else {
		counter(d.storeErrors, st.StoreErrors, "all")
	}
	gauge(d.storeUp, bool01(st.Store == coordinator.StoreUp))
	for _, s := range []coordinator.StoreState{
		coordinator.StoreUnknown, coordinator.StoreUp, coordinator.StoreUnreachable, coordinator.StoreDenied,
	} {
		gauge(d.storeState, bool01(st.Store == s), s.String())
	}
	gauge(d.degraded, bool01(st.Degraded))
	gauge(d.subscriptionDenied, bool01(st.WatchDenied))
	counter(d.reconnects, st.Resubscribes)
	var last float64
	if !st.LastMessage.IsZero() {
		last = float64(st.LastMessage.UnixNano()) / 1e9
	}
	gauge(d.lastMessage, last)

	pins := col.pins()
	for _, s := range cache.Strategies {
		gauge(d.pins, float64(pins.Of(s)), s.String())
	}

	ch <- constHistogram(d.adoptionLag, st.AdoptLag.Bounds, st.AdoptLag.Counts, st.AdoptLag.Sum)
	sm := col.opts.Store
	if sm == nil {
		sm = col.noStore
	}
	for op, name := range opNames {
		ch <- relabel(d.storeDuration, sm.durations[op], name)
	}
}

// pins returns the pin counts to report: those of Options.Pins, or the
// last it returned when it fails, or the coordinator's own pins.
func (col *Collector) pins() cache.PinCounts {
	if col.opts.Pins == nil {
		return col.c.Pins()
	}
	ctx, cancel := context.WithTimeout(context.Background(), col.opts.PinsTimeout)
	n, err := col.opts.Pins(ctx)
	cancel()
	col.mu.Lock()
	defer col.mu.Unlock()
	if err == nil {
		col.lastPins = n
	}
	return col.lastPins
}

// constHistogram returns a Prometheus histogram of buckets counts over
// bounds (one more count than bounds, the last above them all). The count
// is the sum of the buckets, so that the +Inf bucket is never below
// another even while observations are made.
func constHistogram(desc *prometheus.Desc, bounds []float64, counts []uint64, sum float64, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var count uint64
	for i, n := range counts {
		count += n
		if i < len(bounds) {
			buckets[bounds[i]] = count
		}
	}
	return prometheus.MustNewConstHistogram(desc, count, sum, buckets, labels...)
}

// relabel returns the observations of h as a histogram of desc with the
// label values labels.
func relabel(desc *prometheus.Desc, h prometheus.Histogram, labels ...string) prometheus.Metric {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	buckets := make(map[float64]uint64, len(m.GetHistogram().GetBucket()))
	for _, b := range m.GetHistogram().GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return prometheus.MustNewConstHistogram(desc, m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(), buckets, labels...)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// modulePath is the path of e6coord's module, whose version
// e6coord_build_info reports.
const modulePath = "github.com/e6coord/e6coord"

// e6coordVersion returns the version of e6coord's module in the build
// information of the binary, or "unknown".
func e6coordVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	}
	for _, dep := range bi.Deps {
		if dep.Path == modulePath {
			v = dep.Version
			if dep.Replace != nil && dep.Replace.Version != "" {
				v = dep.Replace.Version
			}
		}
	}
	if v == "" {
		return "unknown"
	}
	return v
}
