package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/coordinator"
	"github.com/e6coord/e6coord/internal/naive"
	"github.com/e6coord/e6coord/internal/proxy"
)

// runNaive is Run with naive workers (Config.Naive), through an embedded
// proxy if cfg.Proxy.
func runNaive(ctx context.Context, cfg Config, stop <-chan struct{}, report func(Report)) (Stats, error) {
	if !cfg.Naive {
		return Stats{}, errors.New("fleet: a proxy is for naive workers")
	}
	if cfg.Commands != nil {
		return Stats{}, errors.New("fleet: naive workers take no commands")
	}
	pid := os.Getpid()
	addr := cfg.Client.Addr
	creds := insecure.NewCredentials()
	var p *proxy.Proxy
	var switches atomic.Int64
	if cfg.Proxy {
		pcfg := cfg.Client
		userChange := pcfg.Coordination.OnChange
		var opened atomic.Pointer[proxy.Proxy]
		pcfg.Coordination.OnChange = func(old, next cache.State) {
			if userChange != nil {
				userChange(old, next)
			}
			if old.Active == next.Active || !next.Active.Valid() {
				return
			}
			r := Report{Event: "change", PID: pid, Generation: next.Generation, Old: old.Active.String(),
				Active: next.Active.String(), ChangedAtMs: next.ChangedAt.UnixMilli(), SeenAtNs: time.Now().UnixNano()}
			if p := opened.Load(); p != nil && p.Conn() != nil {
				c := p.Conn().Coordinator()
				r.Committed = next.ChangedBy == c.Config().ID
				r.Pins = c.Pins().Of(old.Active)
				r.WrongStrategy = c.Stats().WrongStrategy
			}
			if old.Active.Valid() {
				switches.Add(1)
			}
			report(r)
		}
		var err error
		if p, err = proxy.New(proxy.Options{Client: pcfg, Logger: cfg.Client.Logger}); err != nil {
			return Stats{}, err
		}
		opened.Store(p)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.Close()
			return Stats{}, fmt.Errorf("fleet: proxy: %w", err)
		}
		served := make(chan error, 1)
		go func() { served <- p.Serve(lis) }()
		defer func() {
			p.Close()
			<-served
		}()
		addr = lis.Addr().String()
	} else if cfg.Client.TLS != nil {
		creds = credentials.NewTLS(cfg.Client.TLS)
	}
	ncfg := naive.Config{User: cfg.Client.User, Password: cfg.Client.Password,
		Catalog: cfg.Client.Catalog, Schema: cfg.Client.Schema, Cluster: cfg.Client.Cluster}
	report(Report{Event: "ready", PID: pid})

	var queries, failed, rows, rejections, longest atomic.Int64
	var workers sync.WaitGroup
	// One connection per worker, as one published client has. They are
	// closed once every worker has finished, not as each one does: the
	// proxy clears the queries of a connection that ends, and its tag of a
	// connection (a pointer to a zero-size value) is equal for every
	// connection, so that one ending clears the queries of all.
	ccs := make([]*grpc.ClientConn, cfg.Workers)
	defer func() {
		for _, cc := range ccs {
			if cc != nil {
				cc.Close()
			}
		}
	}()
	for i := range ccs {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			return Stats{}, fmt.Errorf("fleet: naive client: %w", err)
		}
		ccs[i] = cc
	}
	for _, cc := range ccs {
		workers.Go(func() {
			c := naive.New(cc, ncfg)
			defer func() {
				st := c.Stats()
				queries.Add(st.Queries)
				failed.Add(st.Failed)
				rows.Add(st.Rows)
				rejections.Add(st.Rejections)
			}()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				start := time.Now()
				_, err := c.Query(ctx, cfg.Query)
				storeMax(&longest, int64(time.Since(start)))
				if err != nil && ctx.Err() == nil {
					report(Report{Event: "failed", PID: pid, Error: err.Error()})
				}
			}
		})
	}
	if cfg.Workers == 0 {
		select {
		case <-stop:
		case <-ctx.Done():
		}
	}
	workers.Wait()
	st := Stats{
		Queries: queries.Load(), Failed: failed.Load(), Rows: rows.Load(),
		WrongStrategy: rejections.Load(), Switches: switches.Load(), MaxQueryNs: longest.Load(),
	}
	if p != nil {
		st.Replays = int64(p.Replays())
		if conn := p.Conn(); conn != nil {
			cs := conn.Stats().Coordinator
			st.Probes, st.WrongStrategy = int64(cs.Probes), int64(cs.WrongStrategy)
			st.StoreErrors = int64(cs.StoreErrors)
			st.StoreUnreached = boolCount(!cs.StoreReached)
			st.StoreDenied = boolCount(cs.Store == coordinator.StoreDenied)
		}
	}
	return st, ctx.Err()
}
