package proxy

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// connTag marks the client connection a call came on. It is not empty:
// pointers to distinct zero-size values may be equal, and each
// connection's tag must be its own.
type connTag struct{ id uint64 }

// connIDs numbers the client connections.
var connIDs atomic.Uint64

type connKey struct{}

// connOf returns the client connection of a call's ctx, nil if unknown.
func connOf(ctx context.Context) *connTag {
	c, _ := ctx.Value(connKey{}).(*connTag)
	return c
}

// connWatch is the server's stats handler: it tags each client connection,
// and clears the queries prepared over it when it ends.
type connWatch struct{ p *Proxy }

func (w connWatch) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, &connTag{id: connIDs.Add(1)})
}

func (w connWatch) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); !ok {
		return
	}
	c := connOf(ctx)
	if c == nil {
		return
	}
	p := w.p
	qs := p.queries.ofConn(c)
	if len(qs) == 0 {
		return
	}
	p.mu.Lock()
	if p.closed { // Close clears every query left
		p.mu.Unlock()
		return
	}
	p.bg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.bg.Done()
		for _, q := range qs {
			p.finish(context.Background(), q)
		}
		if f := p.connEnded.Load(); f != nil {
			(*f)(len(qs))
		}
	}()
}

func (connWatch) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (connWatch) HandleRPC(context.Context, stats.RPCStats) {}
