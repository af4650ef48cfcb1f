package coordinator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/e6coord/e6coord/cache"
)

// Policy says when new queries move to a pending colour that the engine has
// accepted. Queries already pinned finish on their colour under either.
type Policy int

const (
	// Eager moves new queries to the new colour as soon as the engine
	// accepts it. It is the default. On an engine that serves both colours
	// for a while after announcing a switch (an overlap), it costs no
	// rejection under steady load: new queries leave the old colour before
	// the engine stops serving it, and the pinned ones finish meanwhile.
	Eager Policy = iota
	// Drain keeps new queries on the old colour until no query pinned to
	// it remains anywhere in the fleet, or Config.DrainTimeout has passed
	// since the engine accepted the new colour. It suits an engine whose
	// new colour accepts calls before it can take the fleet's whole load,
	// and which serves the old colour until told otherwise: the new colour
	// then gets the fleet's queries only once the old one is idle. Under
	// steady load the old colour rarely drains, since new queries keep
	// pinning it, so the switch usually comes at DrainTimeout or when the
	// engine stops serving the old colour; on an overlap engine every
	// query then in flight is rejected and replayed.
	Drain
)

// String returns "eager" or "drain".
func (p Policy) String() string {
	switch p {
	case Drain:
		return "drain"
	case Eager:
		return "eager"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// ParsePolicy parses "eager" or "drain"; "" is the default, Eager.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "eager", "":
		return Eager, nil
	case "drain":
		return Drain, nil
	}
	return 0, fmt.Errorf("coordinator: unknown policy %q (want eager or drain)", s)
}

// ProbeFunc asks the engine whether it accepts colour s now, typically by
// authenticating with it. It returns nil when the engine accepts s, an error
// that wraps [ErrWrongStrategy] when the engine rejects the colour (456), and any
// other error (bad credentials, engine unreachable) as it is. It must be safe
// for concurrent use.
type ProbeFunc func(ctx context.Context, s cache.Strategy) error

// Config configures a [Coordinator]. The zero value of every field means its
// documented default.
type Config struct {
	// Scope names the engine whose record the coordinator shares.
	Scope cache.Scope

	// ID names this process in the shared record and as probe lease holder.
	// Default: host name, process id and a random suffix.
	ID string

	// Policy says when new queries move to an accepted pending colour.
	// Default: Eager.
	Policy Policy

	// CacheTTL is how long an active colour is trusted after it was last
	// confirmed. Default: 5 minutes.
	CacheTTL time.Duration

	// RefreshAhead is how long before CacheTTL runs out the fleet
	// re-confirms the active colour in the background: each process's
	// turn falls in the first half of that window, and the first to take
	// the probe lease probes once for the fleet, so that no call waits on
	// a probe while the engine keeps accepting the colour. It must be less
	// than CacheTTL. Default: CacheTTL/10.
	RefreshAhead time.Duration

	// PendingTTL is how long a pending colour lasts without being
	// announced again by the engine; then it is dropped, and the fleet
	// stops polling and probing for it. Default: 1 minute.
	PendingTTL time.Duration

	// DrainTimeout bounds how long a Drain switch waits for the old colour's
	// queries, counted from when the engine accepted the new colour.
	// Default: 60 seconds.
	DrainTimeout time.Duration

	// MaxAttempts bounds the attempts of one call in [Coordinator.Do]
	// (rejections retried with a fresh colour). Default: 5.
	MaxAttempts int

	// PinTTL is the lease of a pinned query; the coordinator renews the pins
	// it holds every PinTTL/3, so a crashed process's pins expire within
	// PinTTL. In steady state (no switch pending, every pin of the active
	// colour) the pins and releases made since the last renewal are written
	// with it, so a query that neither a renewal nor a switch finds running
	// costs the store nothing. Default: 15 seconds.
	PinTTL time.Duration

	// PinDelay is how long a pin or release may wait to be written to the
	// store while a switch is under way: while a pending colour is
	// recorded, and for the pins of a colour no longer active, whose end
	// the fleet waits for. Those made within PinDelay of each other are
	// written in one call; a switch beginning writes those queued at once.
	// So a Drain switch sees the others' pins within PinDelay and a round
	// trip of their start or of the switch's (on a slow store, the wait is
	// as long as the previous write took, if longer); a process that
	// missed the switch's message (pub/sub is at most once) writes its
	// queued pins when it next reads the record, within RefreshInterval,
	// and a Drain switch may not wait for those. A negative value
	// writes each batch as soon as the previous one is done, in steady
	// state too.
	// Default: 250 milliseconds, short beside PinTTL and DrainTimeout: a
	// query worth waiting for lasts longer.
	PinDelay time.Duration

	// ProbeLeaseTTL is the lease of the prober of the fleet; others wait at
	// most this long for its result before they try themselves.
	// Default: 5 seconds.
	ProbeLeaseTTL time.Duration

	// ProbeTimeout bounds one probe call. A detection makes at most two
	// rounds of probes, renewing the lease between them. Default:
	// ProbeLeaseTTL/3.
	ProbeTimeout time.Duration

	// StoreTimeout bounds every store call. Default: 250 milliseconds.
	StoreTimeout time.Duration

	// RefreshInterval is how often the record is re-read from the store in
	// the background. A negative value turns all timed background work off:
	// the periodic refresh, the early refresh and the expiry of the active
	// colour, and the expiry of a pending one then happen only when
	// a test calls coordinatortest.Refresh.
	// Default: 5 seconds.
	RefreshInterval time.Duration

	// PendingRefreshInterval replaces RefreshInterval while a switch is
	// pending or the store is unreachable. Default: 100 milliseconds.
	PendingRefreshInterval time.Duration

	// PendingProbeInterval is how long after a probe rejected the pending
	// colour the fleet may probe it again (one process, under the probe
	// lease). Until then the switch waits for the engine to reject the
	// old colour. Default: 5 seconds.
	PendingProbeInterval time.Duration

	// WaitPoll is how often a process waiting for another's probe re-reads
	// the record, in case a change notification is lost.
	// Default: 50 milliseconds.
	WaitPoll time.Duration

	// Cluster, if set, resumes the engine's cluster when a probe finds it
	// suspended or starting (ErrSuspended, an HTTP 503): one process of
	// the fleet, under the probe lease, asks its status, resumes it if it
	// is suspended, polls until it is active or failed, and records each
	// state in the shared record; the others wait for that record. Without
	// it a 503 is retried within MaxAttempts and then returned.
	Cluster ClusterControl

	// ResumeTimeout bounds a resume of the cluster, counted from the
	// resume call; callers waiting for it then get a [*ResumeError].
	// Default: 300 seconds.
	ResumeTimeout time.Duration

	// Now returns the current time. The coordinator corrects it by its
	// offset to the store's clock when the store has one ([cache.Clock]),
	// measured before its first detection and again on a refresh at most
	// once a minute: the record's times are then stamped and judged by the
	// store's clock, and hosts whose clocks disagree by any amount judge
	// them alike, to within half a store round trip. Default: time.Now.
	Now func() time.Time

	// Logger receives INFO records for detection, invalidation, announced
	// colours and switches, and WARN records for ignored invalid colours and
	// store trouble. Default: nil, which discards.
	Logger *slog.Logger

	// OnChange, if set, is called after every change of the local snapshot,
	// with the record before and after, in generation order. It must not
	// block for long, and may call only Strategy, Snapshot, Pins and Stats
	// of the coordinator: changes are reported one at a time.
	OnChange func(old, new cache.State)
}

// DefaultCacheTTL is the default of Config.CacheTTL, for tools that judge
// a shared record's age without a coordinator.
const DefaultCacheTTL = 5 * time.Minute

// The other defaults of [Config], which its fields' docs give.
const (
	defaultPendingTTL             = time.Minute
	defaultResumeTimeout          = 300 * time.Second
	defaultDrainTimeout           = 60 * time.Second
	defaultMaxAttempts            = 5
	defaultPinTTL                 = 15 * time.Second
	defaultPinDelay               = 250 * time.Millisecond
	defaultProbeLeaseTTL          = 5 * time.Second
	defaultStoreTimeout           = 250 * time.Millisecond
	defaultRefreshInterval        = 5 * time.Second
	defaultPendingRefreshInterval = 100 * time.Millisecond
	defaultWaitPoll               = 50 * time.Millisecond
	defaultPendingProbeInterval   = 5 * time.Second
)

// withDefaults returns cfg with every zero field set to its default, or an
// error for a value that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", name, d))
		}
	}
	neg("CacheTTL", cfg.CacheTTL)
	neg("RefreshAhead", cfg.RefreshAhead)
	neg("PendingTTL", cfg.PendingTTL)
	neg("ResumeTimeout", cfg.ResumeTimeout)
	neg("DrainTimeout", cfg.DrainTimeout)
	neg("PinTTL", cfg.PinTTL)
	neg("ProbeLeaseTTL", cfg.ProbeLeaseTTL)
	neg("ProbeTimeout", cfg.ProbeTimeout)
	neg("StoreTimeout", cfg.StoreTimeout)
	neg("PendingRefreshInterval", cfg.PendingRefreshInterval)
	neg("WaitPoll", cfg.WaitPoll)
	neg("PendingProbeInterval", cfg.PendingProbeInterval)
	if cfg.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("MaxAttempts must not be negative, got %d", cfg.MaxAttempts))
	}
	if cfg.Policy != Drain && cfg.Policy != Eager {
		errs = append(errs, fmt.Errorf("unknown policy %d", cfg.Policy))
	}
	if cfg.RefreshAhead > 0 && cfg.RefreshAhead >= cmp.Or(cfg.CacheTTL, DefaultCacheTTL) {
		errs = append(errs, fmt.Errorf("RefreshAhead %v must be less than CacheTTL %v",
			cfg.RefreshAhead, cmp.Or(cfg.CacheTTL, DefaultCacheTTL)))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("coordinator: invalid config: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.CacheTTL, DefaultCacheTTL)
	def(&cfg.RefreshAhead, cfg.CacheTTL/10)
	def(&cfg.PendingTTL, defaultPendingTTL)
	def(&cfg.ResumeTimeout, defaultResumeTimeout)
	def(&cfg.DrainTimeout, defaultDrainTimeout)
	def(&cfg.PinTTL, defaultPinTTL)
	def(&cfg.PinDelay, defaultPinDelay)
	def(&cfg.ProbeLeaseTTL, defaultProbeLeaseTTL)
	def(&cfg.ProbeTimeout, cfg.ProbeLeaseTTL/3)
	def(&cfg.StoreTimeout, defaultStoreTimeout)
	def(&cfg.RefreshInterval, defaultRefreshInterval)
	def(&cfg.PendingRefreshInterval, defaultPendingRefreshInterval)
	def(&cfg.WaitPoll, defaultWaitPoll)
	def(&cfg.PendingProbeInterval, defaultPendingProbeInterval)
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.ID == "" {
		cfg.ID = defaultID()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
