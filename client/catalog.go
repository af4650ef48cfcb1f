package client

import (
	"context"

	"github.com/e6coord/e6coord/client/e6xpb"
)

// Schemas returns the schema names of the configured catalog.
func (c *Conn) Schemas(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, func(ctx context.Context, sess *session) error {
		resp, err := c.engine.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{
			SessionId: sess.id, Catalog: c.cfg.Catalog,
		})
		out = resp.GetSchemas()
		return err
	})
	return out, err
}

// Tables returns the table names of schema in the configured catalog.
func (c *Conn) Tables(ctx context.Context, schema string) ([]string, error) {
	var out []string
	err := c.do(ctx, func(ctx context.Context, sess *session) error {
		resp, err := c.engine.GetTablesV2(ctx, &e6xpb.GetTablesV2Request{
			SessionId: sess.id, Schema: schema, Catalog: c.cfg.Catalog,
		})
		out = resp.GetTables()
		return err
	})
	return out, err
}

// Columns returns the columns of table in schema of the configured
// catalog.
func (c *Conn) Columns(ctx context.Context, schema, table string) ([]Column, error) {
	var out []Column
	err := c.do(ctx, func(ctx context.Context, sess *session) error {
		resp, err := c.engine.GetColumnsV2(ctx, &e6xpb.GetColumnsV2Request{
			SessionId: sess.id, Schema: schema, Table: table, Catalog: c.cfg.Catalog,
		})
		out = out[:0]
		for _, f := range resp.GetFieldInfo() {
			out = append(out, Column{Name: f.GetFieldName(), Type: f.GetFieldType()})
		}
		return err
	})
	return out, err
}

// DryRun asks the engine to plan sql without running it, and returns its
// answer.
func (c *Conn) DryRun(ctx context.Context, sql string) (string, error) {
	var out string
	err := c.do(ctx, func(ctx context.Context, sess *session) error {
		resp, err := c.engine.DryRunV2(ctx, &e6xpb.DryRunRequestV2{
			SessionId: sess.id, Schema: c.cfg.Schema, QueryString: sql, Catalog: c.cfg.Catalog,
		})
		out = resp.GetDryrunValue()
		return err
	})
	return out, err
}

// Explain prepares sql, returns the engine's plan of it, and clears it.
func (c *Conn) Explain(ctx context.Context, sql string) (string, error) {
	var out string
	q, err := c.run(ctx, sql, func(ctx context.Context, q *query) error {
		resp, err := c.engine.Explain(q.ctx(ctx), &e6xpb.ExplainRequest{
			EngineIP: q.plannerIP, SessionId: q.sess.id, QueryId: q.id,
		})
		out = resp.GetExplain()
		return err
	})
	if err != nil {
		return "", err
	}
	return out, q.clear(ctx)
}

// HealthCheck calls the engine's healthCheck. That method is optional
// (PROTOCOL.md): an engine without it answers codes.Unimplemented, which
// HealthCheck returns as it is. [Conn.Connect] checks the engine with only
// the calls a query makes.
func (c *Conn) HealthCheck(ctx context.Context) error {
	return c.do(ctx, func(ctx context.Context, _ *session) error {
		_, err := c.engine.HealthCheck(ctx, &e6xpb.HealthCheckRequest{})
		return err
	})
}
