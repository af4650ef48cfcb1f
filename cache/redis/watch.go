package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
)

// Watch implements [cache.Watcher]. It subscribes, on a connection of its
// own, to the scope's channel and to a heartbeat channel of its own (the
// scope's channel name followed by ":heartbeat:" and a random word), then
// publishes a heartbeat there through the store's client, which sends
// commands to the primary (following a Sentinel failover) or to the master
// of the scope's slot, and returns once the subscription has heard it: so
// every swap that starts after Watch returns is delivered, unless the
// subscription is lost. An ACL must therefore let the store publish, as a
// swap does, and subscribe to both channels: a pattern such as
// &<prefix>:* covers them. When the heartbeat is not heard within
// [Options.Timeout], Watch fails.
//
// On Redis Cluster it subscribes with SSUBSCRIBE on the master that serves
// the scope's slot, and checks that this master still does with the HMGET
// of a [Store.Load] (so an ACL must allow it), following a MOVED reply: a
// subscription on any other node would hear nothing. Its heartbeats go
// with SPUBLISH, which the cluster client sends where its map of the
// cluster puts the slot, as it does the swaps. Elsewhere it uses SUBSCRIBE
// and PUBLISH.
//
// A goroutine reads the subscription and puts each record in the returned
// channel (buffer of one, newest wins, generations only grow); messages
// that do not decode, or name an invalid colour, are skipped. It publishes
// a heartbeat every [Options.HeartbeatInterval], and when the subscription
// has heard none for [Options.HeartbeatTimeout], the subscription counts as
// lost. That covers a connection that went silent (a network drop) and a
// subscription that no longer hears what is published where the store
// writes: one left on a demoted primary that still answers, after a
// Sentinel failover that go-redis followed with its commands only, or on a
// master that lost the slot without saying so. The subscription is lost
// too on any receive error, and when Redis ends it (as Redis Cluster does
// when the scope's slot moves to another node, after a failover). Then the
// goroutine closes the subscription and the returned channel, and a new
// Watch subscribes through the store's current view of the topology. The
// channel is also closed when ctx is done or the store is closed; Close
// waits for the goroutine.
func (s *Store) Watch(ctx context.Context, scope cache.Scope) (<-chan cache.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis: watch %s: %w", scope, err)
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, fmt.Errorf("redis: watch %s: %w", scope, cache.ErrClosed)
	}
	s.wg.Add(1) // Close waits for the subscription and the goroutine
	s.mu.Unlock()

	k := s.keysOf(scope)
	w := &watch{
		s:         s,
		events:    k.events,
		heartbeat: k.events + ":heartbeat:" + rand.Text(),
		out:       make(chan cache.State, 1),
		ready:     make(chan struct{}),
		ended:     make(chan struct{}),
	}
	ps, err := s.subscribe(ctx, k, w.heartbeat)
	if err != nil {
		s.wg.Done()
		return nil, fmt.Errorf("redis: watch %s: %w", scope, err)
	}
	w.ps = ps

	// The goroutine stops when ctx is done or the store is closed.
	wctx, stop := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(s.done, stop)
	go func() {
		defer s.wg.Done()
		w.err = w.run(wctx)
		stop()
		stopOnClose()
		close(w.out)
		close(w.ended)
	}()

	// Wait, within the store's timeout, for the first heartbeat. An error
	// of its publish is Watch's, made to wrap cache.ErrAccessDenied here.
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	select {
	case <-w.ready:
		return w.out, nil
	case <-w.ended:
	case <-tctx.Done():
		stop()
		<-w.ended
	}
	select {
	case <-w.ready: // heard, then lost at once: the caller sees it closed
		return w.out, nil
	default:
	}
	switch {
	case s.done.Err() != nil:
		err = cache.ErrClosed
	case w.err != nil && !errors.Is(w.err, context.Canceled):
		err = callError(tctx, w.err)
	default:
		err = contextError(tctx, errors.New("the subscription did not hear its heartbeat"))
	}
	return nil, fmt.Errorf("redis: watch %s: %w", scope, err)
}

// watch is the state of one [Store.Watch].
type watch struct {
	s                 *Store
	ps                *goredis.PubSub
	events, heartbeat string // the channels
	out               chan cache.State
	ready             chan struct{} // closed when the first heartbeat is heard
	ended             chan struct{} // closed when run has returned, after out
	err               error         // why run returned; read after ended
}

// subscribe subscribes to the channel of k and to heartbeat on a new
// connection and waits, within the store's timeout, for Redis to confirm
// it. A Close meanwhile waits for it; the watch goroutine then stops at
// once.
//
// The subscription is made by a goroutine that the store's wait group
// counts, and subscribe stops waiting for it at the deadline: go-redis
// may block past it, as a FailoverClient's dial does while the sentinels
// are unreachable (it waits on a lock that the client's background dials
// hold while they ask the sentinels). The goroutine then closes the
// subscription it gets, if any, when go-redis returns.
func (s *Store) subscribe(ctx context.Context, k keys, heartbeat string) (*goredis.PubSub, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	type result struct {
		ps  *goredis.PubSub
		err error
	}
	done := make(chan result, 1)
	var mu sync.Mutex // guards abandoned, and orders it with the send on done
	abandoned := false
	s.wg.Add(1) // Watch holds a count already: Close has not returned
	go func() {
		defer s.wg.Done()
		var r result
		if cc, ok := s.c.(*goredis.ClusterClient); ok {
			r.ps, r.err = subscribeShard(ctx, cc, k, heartbeat)
		} else {
			r.ps, r.err = subscribeOn(ctx, s.c.Subscribe, "subscribe", k.events, heartbeat)
		}
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if r.ps != nil {
				_ = r.ps.Close()
			}
			return
		}
		done <- r // buffered: never blocks
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		mu.Lock()
		select {
		case r = <-done: // it came meanwhile
		default:
			abandoned = true
			r.err = ctx.Err()
		}
		mu.Unlock()
	}
	if r.err != nil {
		s.refresh(r.err)
		return nil, callError(ctx, r.err)
	}
	return r.ps, nil
}

// subscribeShard subscribes with SSUBSCRIBE to the channel of k and to
// heartbeat (which shares its hash tag) on the master that serves the slot
// of k, as cc's map of the cluster says, then checks that it does,
// with the HMGET of a Load on that node: a subscription on a replica, or
// on a master that no longer serves the slot, is confirmed, answers pings,
// and hears nothing. Once the check has passed, a move of the slot ends
// the subscription (Redis sends SUNSUBSCRIBE). When the map is stale, as
// after a failover, the node answers the check with MOVED, and
// subscribeShard tries again on the master that MOVED names, up to twice.
func subscribeShard(ctx context.Context, cc *goredis.ClusterClient, k keys, heartbeat string) (*goredis.PubSub, error) {
	node, err := cc.MasterForKey(ctx, k.events)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		ps, err := subscribeOn(ctx, node.SSubscribe, "ssubscribe", k.events, heartbeat)
		if err != nil {
			return nil, err
		}
		err = node.HMGet(ctx, k.record, "gen").Err()
		if err == nil {
			return ps, nil
		}
		_ = ps.Close()
		addr, moved := movedTo(err)
		if !moved || attempt == 2 {
			return nil, err
		}
		if node, err = masterAt(ctx, cc, addr); err != nil {
			return nil, err
		}
	}
}

// movedTo returns the address that err, a MOVED reply, names.
func movedTo(err error) (addr string, ok bool) {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		return "", false
	}
	f := strings.Fields(reply.Error())
	if len(f) != 3 || f[0] != "MOVED" {
		return "", false
	}
	return f[2], true
}

// masterAt returns the client of the master at addr among those that
// cc.ForEachMaster calls, which reloads the map of the cluster first.
func masterAt(ctx context.Context, cc *goredis.ClusterClient, addr string) (*goredis.Client, error) {
	var mu sync.Mutex // guards found
	var found *goredis.Client
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *goredis.Client) error {
		if c.Options().Addr == addr {
			mu.Lock()
			found = c
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("the scope's slot moved to %s, which the map of the cluster does not list as a master", addr)
	}
	return found, nil
}

// subscribeOn subscribes to channels with a PubSub that newPubSub makes,
// SUBSCRIBE or SSUBSCRIBE as kind says, and waits for the confirmations. A
// cancelled ctx closes the PubSub, which ends a blocked receive at once.
func subscribeOn(ctx context.Context, newPubSub func(context.Context, ...string) *goredis.PubSub, kind string, channels ...string) (*goredis.PubSub, error) {
	ps := newPubSub(ctx) // no channel yet: no I/O
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		_ = ps.Close()
	})
	err := confirm(ctx, ps, kind, channels)
	if !stop() {
		<-closed
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		_ = ps.Close()
		return nil, err
	}
	return ps, nil
}

// confirm sends SUBSCRIBE, or SSUBSCRIBE when kind is "ssubscribe", for
// channels and reads replies until Redis has confirmed each.
func confirm(ctx context.Context, ps *goredis.PubSub, kind string, channels []string) error {
	sub := ps.Subscribe
	if kind == "ssubscribe" {
		sub = ps.SSubscribe
	}
	if err := sub(ctx, channels...); err != nil {
		return err
	}
	pending := slices.Clone(channels)
	for len(pending) > 0 {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == kind {
			pending = slices.DeleteFunc(pending, func(c string) bool { return c == s.Channel })
		}
	}
	return nil
}

// run reads the subscription and publishes the heartbeats until ctx is
// done or the subscription is lost, and returns why; it closes the
// subscription before it returns. It closes w.ready when the first
// heartbeat is heard. A heartbeat that cannot be published before then is
// the error run returns; later, a failed publish is only a heartbeat that
// will not be heard.
func (w *watch) run(ctx context.Context) error {
	msgs := make(chan any) // what the subscription receives, then its error
	quit := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		for {
			msg, err := w.ps.Receive(ctx)
			if err != nil {
				msg = err
			}
			select {
			case msgs <- msg:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	})
	defer func() {
		close(quit)
		_ = w.ps.Close() // ends a blocked Receive
		reader.Wait()
	}()

	clk := w.s.clock
	var (
		last     uint64 // the generation last put in out
		seq      uint64 // the heartbeats published
		ready    bool
		heard    = clk.Now() // a heartbeat was last heard, or the subscription made
		nextBeat = heard
	)
	handle := func(msg any) error {
		switch m := msg.(type) {
		case error:
			return m
		case *goredis.Subscription:
			if (m.Channel == w.events || m.Channel == w.heartbeat) && (m.Kind == "unsubscribe" || m.Kind == "sunsubscribe") {
				return errUnsubscribed
			}
		case *goredis.Message:
			switch m.Channel {
			case w.heartbeat:
				heard = clk.Now()
				if !ready {
					ready = true
					close(w.ready)
				}
				w.s.trace(traceHeard)
			case w.events:
				st, err := decodeState(m.Payload)
				if err != nil || st.Generation <= last {
					return nil
				}
				select {
				case <-w.out: // replaced by the newer record
				default:
				}
				w.out <- st // never blocks: this goroutine is the only sender
				last = st.Generation
			}
		}
		return nil
	}
	for {
		now := clk.Now()
		if !now.Before(heard.Add(w.s.hbTimeout)) {
			// Silent for too long; but a heartbeat may be waiting, unread.
			for drained := false; !drained; {
				select {
				case msg := <-msgs:
					if err := handle(msg); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			if !now.Before(heard.Add(w.s.hbTimeout)) {
				return errSilent
			}
		}
		if !now.Before(nextBeat) {
			seq++
			err := w.s.publishHeartbeat(ctx, w.heartbeat, seq)
			w.s.trace(tracePublished)
			if err != nil && !ready {
				return err
			}
			nextBeat = now.Add(w.s.heartbeat)
			continue
		}
		wake := heard.Add(w.s.hbTimeout)
		if nextBeat.Before(wake) {
			wake = nextBeat
		}
		timer, stop := clk.At(wake)
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case msg := <-msgs:
			stop()
			if err := handle(msg); err != nil {
				return err
			}
		case <-timer:
		}
	}
}

// Why a subscription was lost.
var (
	errUnsubscribed = errors.New("Redis ended the subscription")
	errSilent       = errors.New("the subscription heard no heartbeat within the heartbeat timeout")
)

// publishHeartbeat publishes heartbeat number seq on channel, with PUBLISH,
// or SPUBLISH on Redis Cluster, through the store's client.
func (s *Store) publishHeartbeat(ctx context.Context, channel string, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	payload := strconv.FormatUint(seq, 10)
	var err error
	if s.sharded {
		err = s.c.SPublish(ctx, channel, payload).Err()
	} else {
		err = s.c.Publish(ctx, channel, payload).Err()
	}
	if err != nil {
		s.refresh(err)
		return contextError(ctx, err)
	}
	return nil
}

// The events of a watch that [Store.trace] reports.
const (
	tracePublished = "published" // a heartbeat was published, or failed to be
	traceHeard     = "heard"     // a heartbeat of the watch was heard
)

// trace reports an event of a watch to the tests' hook, if any.
func (s *Store) trace(event string) {
	if s.hook != nil {
		s.hook(event)
	}
}

// clock is the time of the watches: the wall clock, or a test's.
type clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock has reached t, and
	// a function that stops it.
	At(t time.Time) (<-chan time.Time, func() bool)
}

// wallClock is the clock of the watches outside tests.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) At(t time.Time) (<-chan time.Time, func() bool) {
	tm := time.NewTimer(time.Until(t))
	return tm.C, tm.Stop
}
