package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/e6coord/e6coord/cache"
)

// Watch implements [cache.Watcher]. It subscribes to the scope's channel on
// a connection of its own and returns once Redis has confirmed the
// subscription, so that every swap that starts after Watch returns is
// delivered, unless the subscription is lost. On Redis Cluster it
// subscribes with SSUBSCRIBE on the master that serves the scope's slot,
// and checks that this master still does with the HMGET of a [Store.Load]
// (so an ACL must allow it), following a MOVED reply: a subscription on any
// other node would hear nothing. Elsewhere it uses SUBSCRIBE.
//
// A goroutine reads the channel and puts each record in the returned
// channel (buffer of one, newest wins, generations only grow); messages
// that do not decode, or name an invalid colour, are skipped. It pings the
// subscription every [Options.HeartbeatInterval], and when nothing (no
// message, no pong) has arrived for [Options.HeartbeatTimeout], on any
// receive error, or when Redis ends the subscription (as Redis Cluster
// does when the scope's slot moves to another node, after a failover), the
// subscription counts as lost: the goroutine closes it and the returned
// channel. The channel is also closed when ctx is done or
// the store is closed; Close waits for the goroutine.
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
	channel := k.events
	ps, err := s.subscribe(ctx, k)
	if err != nil {
		s.wg.Done()
		return nil, fmt.Errorf("redis: watch %s: %w", scope, err)
	}

	out := make(chan cache.State, 1)
	// Both ends of the watch close ps, which interrupts a blocked receive.
	// afters counts the callbacks that have started, so that the goroutine
	// returns only when they are done.
	var afters sync.WaitGroup
	closeOn := func(c context.Context) (stop func()) {
		afters.Add(1)
		st := context.AfterFunc(c, func() {
			defer afters.Done()
			_ = ps.Close()
		})
		return func() {
			if st() {
				afters.Done() // will never run
			}
		}
	}
	stopCtx, stopDone := closeOn(ctx), closeOn(s.done)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.receive(ctx, ps, channel, out)
		stopCtx()
		stopDone()
		afters.Wait()
		_ = ps.Close()
	}()
	return out, nil
}

// subscribe subscribes to the channel of k on a new connection and waits,
// within the store's timeout, for Redis to confirm it. A Close meanwhile
// waits for it; the watch goroutine then stops at once.
//
// The subscription is made by a goroutine that the store's wait group
// counts, and subscribe stops waiting for it at the deadline: go-redis
// may block past it, as a FailoverClient's dial does while the sentinels
// are unreachable (it waits on a lock that the client's background dials
// hold while they ask the sentinels). The goroutine then closes the
// subscription it gets, if any, when go-redis returns.
func (s *Store) subscribe(ctx context.Context, k keys) (*goredis.PubSub, error) {
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
			r.ps, r.err = subscribeShard(ctx, cc, k)
		} else {
			r.ps, r.err = subscribeOn(ctx, s.c.Subscribe, "subscribe", k.events)
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

// subscribeShard subscribes with SSUBSCRIBE on the master that serves the
// slot of k, as cc's map of the cluster says, then checks that it does,
// with the HMGET of a Load on that node: a subscription on a replica, or
// on a master that no longer serves the slot, is confirmed, answers pings,
// and hears nothing. Once the check has passed, a move of the slot ends
// the subscription (Redis sends SUNSUBSCRIBE). When the map is stale, as
// after a failover, the node answers the check with MOVED, and
// subscribeShard tries again on the master that MOVED names, up to twice.
func subscribeShard(ctx context.Context, cc *goredis.ClusterClient, k keys) (*goredis.PubSub, error) {
	node, err := cc.MasterForKey(ctx, k.events)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		ps, err := subscribeOn(ctx, node.SSubscribe, "ssubscribe", k.events)
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

// subscribeOn subscribes to channel with a PubSub that newPubSub makes,
// SUBSCRIBE or SSUBSCRIBE as kind says, and waits for the confirmation. A
// cancelled ctx closes the PubSub, which ends a blocked receive at once.
func subscribeOn(ctx context.Context, newPubSub func(context.Context, ...string) *goredis.PubSub, kind, channel string) (*goredis.PubSub, error) {
	ps := newPubSub(ctx) // no channel yet: no I/O
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		_ = ps.Close()
	})
	err := confirm(ctx, ps, kind, channel)
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

// confirm sends SUBSCRIBE, or SSUBSCRIBE when kind is "ssubscribe", and
// reads replies until its confirmation.
func confirm(ctx context.Context, ps *goredis.PubSub, kind, channel string) error {
	sub := ps.Subscribe
	if kind == "ssubscribe" {
		sub = ps.SSubscribe
	}
	if err := sub(ctx, channel); err != nil {
		return err
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == kind && s.Channel == channel {
			return nil
		}
	}
}

// receive delivers the records published on channel to out until ctx is
// done, the store is closed, or the subscription is lost.
func (s *Store) receive(ctx context.Context, ps *goredis.PubSub, channel string, out chan cache.State) {
	var last uint64 // the generation last put in out
	heard := time.Now()
	nextPing := heard.Add(s.heartbeat)
	for ctx.Err() == nil && s.done.Err() == nil {
		now := time.Now()
		dead := heard.Add(s.hbTimeout)
		// Silent for too long: one last short look, since under load a
		// pong may be waiting unread, then give up.
		final := !now.Before(dead)
		if !final && !now.Before(nextPing) {
			if err := ps.Ping(ctx); err != nil {
				return
			}
			nextPing = now.Add(s.heartbeat)
		}
		wait := min(nextPing.Sub(now), dead.Sub(now))
		if final {
			wait = lastLook
		}
		// A timeout of 0 would block without a deadline.
		msg, err := ps.ReceiveTimeout(ctx, max(wait, time.Millisecond))
		if err != nil {
			if isTimeout(err) && !final {
				continue
			}
			return
		}
		heard = time.Now()
		if sub, ok := msg.(*goredis.Subscription); ok {
			if sub.Channel == channel && (sub.Kind == "unsubscribe" || sub.Kind == "sunsubscribe") {
				return // Redis ended the subscription
			}
			continue
		}
		m, ok := msg.(*goredis.Message)
		if !ok || m.Channel != channel {
			continue // a pong
		}
		st, err := decodeState(m.Payload)
		if err != nil || st.Generation <= last {
			continue
		}
		select {
		case <-out: // replaced by the newer record
		default:
		}
		out <- st // never blocks: this goroutine is the only sender
		last = st.Generation
	}
}

// lastLook is how long a silent subscription gets to answer before it is
// given up.
const lastLook = 50 * time.Millisecond

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
