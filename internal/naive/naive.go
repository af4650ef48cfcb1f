// Package naive is an engine client made of the generated stubs alone
// (client/e6xpb): no interceptor, no coordinator. It behaves on the wire as
// the engine's published Python client does (PROTOCOL.md, "How the
// published client behaves"), as far as running a query goes:
//
//   - It authenticates lazily, detecting the colour with strategy blue,
//     then green if blue answers a 456. A new_strategy on an authenticate
//     response makes it authenticate again with that colour.
//   - It keeps its own idea of the colour and sends it in the strategy
//     header of every call; once a query is prepared, its calls also carry
//     the plannerip header with the prepare's engineIP.
//   - A new_strategy on a query's responses is recorded as pending and
//     applied after a successful clearOrCancelQuery (a client runs one
//     query at a time): the colour changes and the session is dropped, so
//     the next query authenticates with the new colour.
//   - Only the execute step (prepare, execute, metadata, as the published
//     client's cursor.execute makes them) recovers from a 456, by
//     authenticating again (detecting the colour anew) and running the step
//     again, at most 5 attempts in all; it recovers from "Access denied" in
//     the same way, keeping its colour. A 456 on getNextResultBatch or
//     clearOrCancelQuery reaches the caller: the query failed.
//
// It is the naive client of `e6coord demo --client naive` and of the
// proxy's tests: what a fleet of such clients sees against a switching
// engine, directly or through `e6coord proxy`.
package naive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
)

// MaxAttempts is how many times the execute step runs at most, as in the
// published client.
const MaxAttempts = 5

// Config is what a Client needs of the engine: the credential and the
// names of its queries.
type Config struct {
	User, Password  string
	Catalog, Schema string
	// Cluster, if set, is sent lower-cased in the cluster-name header.
	Cluster string
}

// Stats counts what a Client did and saw.
type Stats struct {
	Queries           int64 // queries started
	Failed            int64 // queries that returned an error
	Rows              int64 // rows read
	Rejections        int64 // calls answered with a 456
	NewStrategies     int64 // new_strategy values in responses
	Reauthentications int64 // authentications after a 456 or "Access denied" on the execute step
}

// Client is one connection of the published client: one colour, one
// session, one query at a time. It is not safe for concurrent use.
type Client struct {
	stub    e6xpb.QueryEngineServiceClient
	cfg     Config
	colour  string // "" until detected
	pending string // a new_strategy to apply after the next clear
	sid     string
	stats   Stats
}

// New returns a client that calls the engine over cc.
func New(cc grpc.ClientConnInterface, cfg Config) *Client {
	return &Client{stub: e6xpb.NewQueryEngineServiceClient(cc), cfg: cfg}
}

// Stats returns the client's counts.
func (c *Client) Stats() Stats { return c.stats }

// Colour returns the client's idea of the active colour, "" before it
// authenticated.
func (c *Client) Colour() string { return c.colour }

// IsRejection reports whether err is a 456 as the published client
// recognises one: "status: 456" in the error's details, as gRPC C-core
// words an HTTP 456 and an engine's gateway its 456 in a gRPC status. An
// HTTP 456 reaches grpc-go in other words ("unexpected HTTP status code
// received from server: 456"), which count too: they are the same answer
// on the wire.
func IsRejection(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(status.Convert(err).Message())
	return strings.Contains(msg, "status: 456") || strings.Contains(msg, "status code received from server: 456")
}

func isAccessDenied(err error) bool {
	st := status.Convert(err)
	return err != nil && st.Code() == codes.Internal && strings.Contains(st.Message(), "Access denied")
}

// headers returns ctx with the published client's headers: plannerip (if
// set), cluster-name (if configured), strategy (if known).
func (c *Client) headers(ctx context.Context, colour, planner string) context.Context {
	var kv []string
	if planner != "" {
		kv = append(kv, "plannerip", planner)
	}
	if c.cfg.Cluster != "" {
		kv = append(kv, "cluster-name", strings.ToLower(c.cfg.Cluster))
	}
	if colour != "" {
		kv = append(kv, "strategy", colour)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

func (c *Client) note(err error) error {
	if IsRejection(err) {
		c.stats.Rejections++
	}
	return err
}

// authenticate gets a session with the client's colour, detecting it
// first (blue, then green on a 456) when the client has none.
func (c *Client) authenticate(ctx context.Context) error {
	colours := []string{c.colour}
	if c.colour == "" {
		colours = []string{"blue", "green"}
	}
	req := &e6xpb.AuthenticateRequest{User: c.cfg.User, Password: c.cfg.Password}
	for i, colour := range colours {
		resp, err := c.stub.Authenticate(c.headers(ctx, colour, ""), req)
		if err != nil {
			c.note(err)
			if IsRejection(err) && i+1 < len(colours) {
				continue
			}
			return fmt.Errorf("authenticate: %w", err)
		}
		c.colour, c.sid = colour, resp.GetSessionId()
		if ns := strings.ToLower(resp.GetNewStrategy()); ns != "" {
			// "Switch now": authenticate again with that colour.
			c.stats.NewStrategies++
			resp, err := c.stub.Authenticate(c.headers(ctx, ns, ""), req)
			if err != nil {
				c.note(err)
				return fmt.Errorf("authenticate: %w", err)
			}
			c.colour, c.sid = ns, resp.GetSessionId()
		}
		return nil
	}
	return errors.New("authenticate: no colour") // not reached
}

// saw records a new_strategy of a query's response as pending.
func (c *Client) saw(v string) {
	if v = strings.ToLower(v); v == "" {
		return
	}
	c.stats.NewStrategies++
	if v != c.colour {
		c.pending = v
	}
}

// query is a prepared query: its id, engineIP, colour and result.
type query struct {
	id, ip, colour string
	raw            *client.RawResult
}

// Query runs sql as the published client's cursor does (execute, fetch
// every batch until an empty one, clear) and returns the rows it read.
func (c *Client) Query(ctx context.Context, sql string) (rows int64, err error) {
	c.stats.Queries++
	defer func() {
		c.stats.Rows += rows
		if err != nil {
			c.stats.Failed++
		}
	}()
	var q query
	for attempt := 1; ; attempt++ {
		q, err = c.execute(ctx, sql)
		if err == nil {
			break
		}
		if attempt == MaxAttempts || ctx.Err() != nil {
			return 0, err
		}
		switch {
		case IsRejection(err):
			c.colour = "" // detect the colour anew
		case isAccessDenied(err):
		default:
			return 0, err
		}
		c.stats.Reauthentications++
		if err := c.authenticate(ctx); err != nil {
			return 0, err
		}
	}
	for {
		b, err := c.stub.GetNextResultBatch(c.headers(ctx, q.colour, q.ip), &e6xpb.GetNextResultBatchRequest{EngineIP: q.ip, SessionId: c.sid, QueryId: q.id})
		if err != nil {
			return rows, fmt.Errorf("fetch: %w", c.note(err))
		}
		c.saw(b.GetNewStrategy())
		k, err := q.raw.Batch(b.GetResultBatch())
		if err != nil {
			return rows, fmt.Errorf("fetch: %w", err)
		}
		if k == 0 {
			break
		}
		rows += int64(k)
	}
	cl, err := c.stub.ClearOrCancelQuery(c.headers(ctx, q.colour, q.ip), &e6xpb.ClearOrCancelQueryRequest{EngineIP: q.ip, SessionId: c.sid, QueryId: q.id})
	if err != nil {
		return rows, fmt.Errorf("clear: %w", c.note(err))
	}
	c.saw(cl.GetNewStrategy())
	if c.pending != "" {
		// No query in flight: the pending colour becomes the client's,
		// with a new session.
		c.colour, c.pending, c.sid = c.pending, "", ""
	}
	return rows, nil
}

// execute is the published client's cursor.execute: prepare (after
// authenticating if there is no session), execute, metadata.
func (c *Client) execute(ctx context.Context, sql string) (query, error) {
	if c.sid == "" {
		if err := c.authenticate(ctx); err != nil {
			return query{}, err
		}
	}
	colour := c.colour
	prep, err := c.stub.PrepareStatementV2(c.headers(ctx, colour, ""), &e6xpb.PrepareStatementV2Request{
		SessionId: c.sid, Schema: c.cfg.Schema, Catalog: c.cfg.Catalog, QueryString: sql,
	})
	if err != nil {
		return query{}, fmt.Errorf("prepare: %w", c.note(err))
	}
	c.saw(prep.GetNewStrategy())
	q := query{id: prep.GetQueryId(), ip: prep.GetEngineIP(), colour: colour}
	ex, err := c.stub.ExecuteStatementV2(c.headers(ctx, q.colour, q.ip), &e6xpb.ExecuteStatementV2Request{EngineIP: q.ip, SessionId: c.sid, QueryId: q.id})
	if err != nil {
		return q, fmt.Errorf("execute: %w", c.note(err))
	}
	c.saw(ex.GetNewStrategy())
	md, err := c.stub.GetResultMetadata(c.headers(ctx, q.colour, q.ip), &e6xpb.GetResultMetadataRequest{EngineIP: q.ip, SessionId: c.sid, QueryId: q.id})
	if err != nil {
		return q, fmt.Errorf("metadata: %w", c.note(err))
	}
	c.saw(md.GetNewStrategy())
	if q.raw, err = client.NewRawResult(md.GetResultMetaData()); err != nil {
		return q, fmt.Errorf("metadata: %w", err)
	}
	return q, nil
}
