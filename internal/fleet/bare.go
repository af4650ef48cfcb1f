package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// bareEngine runs the calls of a query as the client makes them (prepare,
// execute, metadata, batches, clear) through the generated stubs alone:
// with one colour fixed by the caller, no coordinator, no interceptor, no
// pins, no replays. It decodes and checks the metadata and every batch as
// the client does, but makes no Go values of the rows. It is what
// `e6coord bench` compares the full client with.
type bareEngine struct {
	cc     *grpc.ClientConn
	engine e6xpb.QueryEngineServiceClient
	cfg    Config

	mu   sync.Mutex
	sess bareSession
}

type bareSession struct {
	colour string
	id     string
	md     metadata.MD // the headers of a call of the colour
}

func openBare(cfg Config) (*bareEngine, error) {
	creds := insecure.NewCredentials()
	if cfg.Client.TLS != nil {
		creds = credentials.NewTLS(cfg.Client.TLS)
	}
	cc, err := grpc.NewClient(cfg.Client.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("fleet: bare stubs: %w", err)
	}
	return &bareEngine{cc: cc, engine: e6xpb.NewQueryEngineServiceClient(cc), cfg: cfg}, nil
}

func (b *bareEngine) Close() error { return b.cc.Close() }

// use authenticates with colour (blue or green) unless the session is of
// it already: the queries that follow carry it.
func (b *bareEngine) use(ctx context.Context, colour string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess.colour == colour && b.sess.id != "" {
		return nil
	}
	md := metadata.Pairs("strategy", colour)
	if b.cfg.Client.Cluster != "" {
		md.Set("cluster-name", b.cfg.Client.Cluster)
	}
	resp, err := b.engine.Authenticate(metadata.NewOutgoingContext(ctx, md), &e6xpb.AuthenticateRequest{User: b.cfg.Client.User, Password: b.cfg.Client.Password})
	if err != nil {
		return fmt.Errorf("fleet: bare stubs: authenticate with %s: %w", colour, err)
	}
	b.sess = bareSession{colour: colour, id: resp.GetSessionId(), md: md}
	return nil
}

// query runs cfg.Query once and returns the rows it read.
func (b *bareEngine) query(ctx context.Context) (int64, error) {
	b.mu.Lock()
	sess := b.sess
	b.mu.Unlock()
	if sess.id == "" {
		return 0, errors.New("fleet: bare stubs: no session")
	}
	prep, err := b.engine.PrepareStatementV2(metadata.NewOutgoingContext(ctx, sess.md), &e6xpb.PrepareStatementV2Request{
		SessionId: sess.id, Schema: b.cfg.Client.Schema, Catalog: b.cfg.Client.Catalog, QueryString: b.cfg.Query,
	})
	if err != nil {
		return 0, err
	}
	md := sess.md.Copy()
	if ip := prep.GetEngineIP(); ip != "" {
		md.Set("plannerip", ip)
	}
	qctx := metadata.NewOutgoingContext(ctx, md)
	ip, id := prep.GetEngineIP(), prep.GetQueryId()
	rows, err := b.read(qctx, sess.id, ip, id)
	_, cerr := b.engine.ClearOrCancelQuery(qctx, &e6xpb.ClearOrCancelQueryRequest{EngineIP: ip, SessionId: sess.id, QueryId: id})
	if err == nil {
		err = cerr
	}
	return rows, err
}

// read executes the prepared query and reads its result.
func (b *bareEngine) read(ctx context.Context, sid, ip, id string) (int64, error) {
	if _, err := b.engine.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: ip, SessionId: sid, QueryId: id}); err != nil {
		return 0, err
	}
	if b.cfg.NoFetch {
		return 0, nil // as Conn.Exec: no result read
	}
	md, err := b.engine.GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{EngineIP: ip, SessionId: sid, QueryId: id})
	if err != nil {
		return 0, err
	}
	res, err := client.NewRawResult(md.GetResultMetaData())
	if err != nil {
		return 0, err
	}
	var rows int64
	for {
		resp, err := b.engine.GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{EngineIP: ip, SessionId: sid, QueryId: id})
		if err != nil {
			return rows, err
		}
		n, err := res.Batch(resp.GetResultBatch())
		if err != nil {
			return rows, err
		}
		if n == 0 {
			return rows, nil
		}
		rows += int64(n)
	}
}
