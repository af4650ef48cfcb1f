package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
)

// wireState is the JSON form of a cache.State, stored in the record's data
// field and published on the scope's channel. Times are unix milliseconds,
// 0 for the zero time; colours are "blue", "green" or "".
type wireState struct {
	Active       string `json:"active"`
	Pending      string `json:"pending"`
	Generation   uint64 `json:"generation"`
	ConfirmedAt  int64  `json:"confirmed_at"`
	AnnouncedAt  int64  `json:"announced_at"`
	AcceptedAt   int64  `json:"accepted_at"`
	ProbedAt     int64  `json:"probed_at"`
	Cluster      string `json:"cluster,omitempty"`
	ClusterSince int64  `json:"cluster_since,omitempty"`
	ChangedAt    int64  `json:"changed_at"`
	ChangedBy    string `json:"changed_by"`
}

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// encodeState returns the JSON of st, which must be valid.
func encodeState(st cache.State) string {
	b, err := json.Marshal(wireState{
		Active:       st.Active.String(),
		Pending:      st.Pending.String(),
		Generation:   st.Generation,
		ConfirmedAt:  toMillis(st.ConfirmedAt),
		AnnouncedAt:  toMillis(st.AnnouncedAt),
		AcceptedAt:   toMillis(st.AcceptedAt),
		ProbedAt:     toMillis(st.ProbedAt),
		Cluster:      string(st.Cluster),
		ClusterSince: toMillis(st.ClusterSince),
		ChangedAt:    toMillis(st.ChangedAt),
		ChangedBy:    st.ChangedBy,
	})
	if err != nil {
		panic("redis: encode state: " + err.Error()) // impossible: plain fields
	}
	return string(b)
}

// decodeState decodes data. A colour that is not blue, green or "" is
// decoded as Unknown, with an error wrapping cache.ErrInvalidStrategy; the
// rest of the record is kept. Malformed JSON is an error and no record.
func decodeState(data string) (cache.State, error) {
	var w wireState
	if err := json.Unmarshal([]byte(data), &w); err != nil {
		return cache.State{}, fmt.Errorf("decode record: %w", err)
	}
	st := cache.State{
		Generation:   w.Generation,
		ConfirmedAt:  fromMillis(w.ConfirmedAt),
		AnnouncedAt:  fromMillis(w.AnnouncedAt),
		AcceptedAt:   fromMillis(w.AcceptedAt),
		ProbedAt:     fromMillis(w.ProbedAt),
		Cluster:      cache.ClusterState(w.Cluster),
		ClusterSince: fromMillis(w.ClusterSince),
		ChangedAt:    fromMillis(w.ChangedAt),
		ChangedBy:    w.ChangedBy,
	}
	var errs []error
	var err error
	if st.Active, err = parseColour(w.Active); err != nil {
		errs = append(errs, fmt.Errorf("active colour: %w", err))
	}
	if st.Pending, err = parseColour(w.Pending); err != nil {
		errs = append(errs, fmt.Errorf("pending colour: %w", err))
	}
	return st, errors.Join(errs...)
}

func parseColour(s string) (cache.Strategy, error) {
	if s == "" {
		return cache.Unknown, nil
	}
	return cache.ParseStrategy(s)
}

// decodeRecord decodes the gen and data fields of a record hash. The gen
// field is the generation that swaps compare, so it wins over the one in
// data.
func decodeRecord(gen, data string) (cache.State, error) {
	g, err := strconv.ParseUint(gen, 10, 64)
	if err != nil {
		return cache.State{}, fmt.Errorf("decode record: generation %q: %w", truncate(gen), err)
	}
	st, err := decodeState(data)
	st.Generation = g
	return st, err
}

// truncate cuts s short for an error message.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Load implements [cache.RecordStore] with one HMGET.
func (s *Store) Load(ctx context.Context, scope cache.Scope) (cache.State, error) {
	ctx, cancel, err := s.begin(ctx, "load", scope)
	if err != nil {
		return cache.State{}, err
	}
	defer cancel()
	vals, err := s.c.HMGet(ctx, s.keysOf(scope).record, "gen", "data").Result()
	if err != nil {
		return cache.State{}, s.fail(ctx, "load", scope, err)
	}
	gen, _ := vals[0].(string)
	data, _ := vals[1].(string)
	if vals[0] == nil && vals[1] == nil {
		return cache.State{}, fmt.Errorf("redis: load %s: %w", scope, cache.ErrNotFound)
	}
	st, err := decodeRecord(gen, data)
	if err != nil {
		return st, fmt.Errorf("redis: load %s: %w", scope, err)
	}
	return st, nil
}

// CompareAndSwap implements [cache.RecordStore] with one script, which
// stores the record and publishes it on the scope's channel (with SPUBLISH
// on Redis Cluster, PUBLISH otherwise: see the package doc). It returns
// the record as stored, with times at millisecond precision. When an ACL
// refuses the channel, it stores nothing and returns an error wrapping
// [cache.ErrAccessDenied].
func (s *Store) CompareAndSwap(ctx context.Context, scope cache.Scope, old uint64, next cache.State) (cache.State, error) {
	ctx, cancel, err := s.begin(ctx, "swap", scope)
	if err != nil {
		return cache.State{}, err
	}
	defer cancel()
	if err := next.Validate(); err != nil {
		return cache.State{}, fmt.Errorf("redis: swap %s: %w", scope, err)
	}
	if next.Generation <= old {
		return cache.State{}, fmt.Errorf("redis: swap %s: generation %d does not grow from %d: %w",
			scope, next.Generation, old, cache.ErrInvalidRecord)
	}
	k := s.keysOf(scope)
	data := encodeState(next)
	script := casScript
	if s.sharded {
		script = casShardedScript
	}
	res, err := script.Run(ctx, s.c, []string{k.record},
		strconv.FormatUint(old, 10), strconv.FormatUint(next.Generation, 10), data, k.events).Slice()
	if err != nil {
		return cache.State{}, s.fail(ctx, "swap", scope, err)
	}
	if len(res) == 1 && res[0] == int64(1) {
		stored, err := decodeState(data)
		if err != nil {
			return cache.State{}, fmt.Errorf("redis: swap %s: %w", scope, err) // impossible
		}
		return stored, nil
	}
	if len(res) != 3 {
		return cache.State{}, fmt.Errorf("redis: swap %s: unexpected script reply %v", scope, res)
	}
	gen, _ := res[1].(string)
	curData, _ := res[2].(string)
	if gen == "" && curData == "" {
		return cache.State{}, fmt.Errorf("redis: swap %s: no record, expected generation %d: %w",
			scope, old, cache.ErrConflict)
	}
	cur, derr := decodeRecord(gen, curData)
	if derr != nil {
		return cur, fmt.Errorf("redis: swap %s: stored generation %q, expected %d: %w (stored record: %w)",
			scope, truncate(gen), old, cache.ErrConflict, derr)
	}
	return cur, fmt.Errorf("redis: swap %s: stored generation %d, expected %d: %w",
		scope, cur.Generation, old, cache.ErrConflict)
}

// isNil reports whether err is Redis's nil reply.
func isNil(err error) bool { return errors.Is(err, goredis.Nil) }
