package client_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/cache"
	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

func TestSelectOne(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv)
	rows, cols, err := readAll(ctxT(t), conn, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{int64(1)}}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(cols) != 1 || cols[0].Type != "LONG" {
		t.Errorf("columns = %+v, want one LONG", cols)
	}
}

// Every value of the 1,000-row table, over several batches, decodes to what
// the engine holds.
func TestNumbersTable(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv)
	rows, cols, err := readAll(ctxT(t), conn, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []client.Column{{"id", "LONG"}, {"name", "STRING"}, {"ratio", "DOUBLE"}, {"even", "BOOLEAN"}}
	if diff := cmp.Diff(wantCols, cols); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if len(rows) != enginetest.NumbersRows {
		t.Fatalf("got %d rows, want %d", len(rows), enginetest.NumbersRows)
	}
	for i, row := range rows {
		id, name, ratio, even := enginetest.NumbersRow(i)
		if diff := cmp.Diff([]any{id, name, ratio, even}, row); diff != "" {
			t.Fatalf("row %d (-want +got):\n%s", i, diff)
		}
	}
	if c := srv.Counts(); c.Prepared != 1 {
		t.Errorf("prepared %d queries, want 1", c.Prepared)
	}
}

// Every value of demo.types, every type with NULLs, edge values and
// constant vectors, reaches the caller exactly as the fake engine holds it,
// in batches of 3 rows so that constants span batches; Value agrees with
// Values.
func TestTypesTable(t *testing.T) {
	srv := newEngine(t, enginetest.Options{BatchSize: 3})
	conn := open(t, srv)
	ctx := ctxT(t)
	rows, err := conn.Query(ctx, "SELECT * FROM demo.types")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if diff := cmp.Diff(clientColumns(enginetest.TypesColumns()), rows.Columns()); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	n := 0
	for ; rows.Next(ctx); n++ {
		got, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		want := clientValues(t, enginetest.TypesRow(n))
		if diff := cmp.Diff(want, got, exactTime); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", n, diff)
		}
		for i := range want {
			v, err := rows.Value(i)
			if err != nil || !cmp.Equal(v, got[i], exactTime) {
				t.Errorf("row %d: Value(%d) = %v, %v; Values has %v", n, i, v, err, got[i])
			}
			if got[i] != nil && reflect.TypeOf(got[i]) != rows.Columns()[i].ScanType() {
				t.Errorf("row %d column %s: value of type %T, ScanType %v", n, rows.Columns()[i].Name, got[i], rows.Columns()[i].ScanType())
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != enginetest.TypesRows {
		t.Fatalf("got %d rows, want %d", n, enginetest.TypesRows)
	}
}

// exactTime compares times by instant, zone name and offset, and requires
// UTC to be time.UTC: cmp would compare the instants only.
var exactTime = cmp.Comparer(func(a, b time.Time) bool {
	na, oa := a.Zone()
	nb, ob := b.Zone()
	return a.Equal(b) && na == nb && oa == ob && (a.Location() == time.UTC) == (b.Location() == time.UTC)
})

// Query calls carry the pinned colour, the lower-cased cluster name and the
// planner; every call of the flow carries a colour.
func TestHeaders(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv)
	if _, _, err := readAll(ctxT(t), conn, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, c := range srv.Log() {
		methods = append(methods, c.Method)
		if c.Strategy == "" || (c.Accepted && c.Strategy != "blue") {
			t.Errorf("%s carried strategy %q, want blue", c.Method, c.Strategy)
		}
		if got := c.Metadata.Get("cluster-name"); len(got) != 1 || got[0] != "prod-eu" {
			t.Errorf("%s carried cluster-name %q, want prod-eu", c.Method, got)
		}
		if c.QueryID != "" && !strings.Contains(c.Method, "prepare") {
			if got := c.Metadata.Get("plannerip"); len(got) != 1 || got[0] != "127.0.0.1" {
				t.Errorf("%s carried plannerip %q, want 127.0.0.1", c.Method, got)
			}
		}
	}
	want := []string{"authenticate", "prepareStatementV2", "executeStatementV2", "getResultMetadata", "getNextResultBatch", "clearOrCancelQuery"}
	for _, m := range want {
		if !slicesContainsSuffix(methods, "/"+m) {
			t.Errorf("no %s call in %v", m, methods)
		}
	}
}

func slicesContainsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// Bad credentials: the error at once, no retry loop, no password in it.
func TestBadCredentials(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv, func(cfg *client.Config) { cfg.Password = "wrong-pw-123" })
	_, err := conn.Query(ctxT(t), "SELECT 1")
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Query() error = %v, want Unauthenticated", err)
	}
	if strings.Contains(err.Error(), "wrong-pw-123") {
		t.Errorf("error %q shows the password", err)
	}
	if c := srv.Counts(); c.Authenticates.Blue+c.Authenticates.Green != 2 || c.Calls != 2 {
		t.Errorf("engine saw %+v; want one probe of each colour and nothing else", c)
	}
}

// An expired session is re-authenticated and the call retried.
func TestSessionExpired(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv)
	ctx := ctxT(t)
	if _, _, err := readAll(ctx, conn, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	srv.ExpireSessions()
	if _, _, err := readAll(ctx, conn, "SELECT 1"); err != nil {
		t.Fatalf("query after the session expired: %v", err)
	}
	if _, err := conn.Schemas(ctx); err != nil {
		t.Fatalf("Schemas after re-authentication: %v", err)
	}
	if c := srv.Counts(); c.Authenticates.Blue != 2 {
		t.Errorf("blue authenticates = %d, want 2 (probe, then re-authentication)", c.Authenticates.Blue)
	}
}

func TestCatalogAndQueryCalls(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv)
	ctx := ctxT(t)
	schemas, err := conn.Schemas(ctx)
	if err != nil || !slicesContainsSuffix(schemas, "demo") {
		t.Errorf("Schemas() = %v, %v; want demo among them", schemas, err)
	}
	tables, err := conn.Tables(ctx, "demo")
	if err != nil || !slicesContainsSuffix(tables, "numbers") {
		t.Errorf("Tables() = %v, %v; want numbers among them", tables, err)
	}
	cols, err := conn.Columns(ctx, "demo", "numbers")
	if err != nil || len(cols) != 4 || cols[0].Name != "id" {
		t.Errorf("Columns() = %v, %v; want the 4 columns of numbers", cols, err)
	}
	if _, err := conn.DryRun(ctx, "SELECT 1"); err != nil {
		t.Errorf("DryRun: %v", err)
	}
	if plan, err := conn.Explain(ctx, "SELECT 1"); err != nil || plan == "" {
		t.Errorf("Explain() = %q, %v", plan, err)
	}
	if err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("Exec: %v", err)
	}
	if err := conn.HealthCheck(ctx); err != nil {
		t.Errorf("HealthCheck: %v", err)
	}

	rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
	if err != nil {
		t.Fatal(err)
	}
	if done, n, err := rows.Status(ctx); err != nil || !done || n != enginetest.NumbersRows {
		t.Errorf("Status() = %v, %d, %v", done, n, err)
	}
	if _, err := rows.ExplainAnalyze(ctx); err != nil {
		t.Errorf("ExplainAnalyze: %v", err)
	}
	if err := rows.Cancel(ctx); err != nil {
		t.Errorf("Cancel: %v", err)
	}
	if rows.Next(ctx) {
		t.Error("Next after Cancel returned true")
	}
	if got := conn.Coordinator().Pins(); got.Total() != 0 {
		t.Errorf("pins left after every query ended: %+v", got)
	}
	if _, err := conn.Query(ctx, "SELECT nonsense"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad SQL: error %v, want InvalidArgument", err)
	}
	if got := conn.Coordinator().Pins(); got.Total() != 0 {
		t.Errorf("pins left after a failed query: %+v", got)
	}
}

// Past the point where rows reach the caller, a rejection is a typed error
// that names the colour sent and the active colour as the process knows
// it, and the pin is released. Building the error does no I/O: no probe.
func TestRejectionAfterRowsReachedCaller(t *testing.T) {
	for _, tt := range []struct {
		name       string
		learn      bool           // the process learns of the switch before the rows fail
		wantActive cache.Strategy // in the error
		wantText   string         // in the error's text
	}{
		// Nothing told the process of the switch: the active colour is
		// not known when the error is made.
		{"unknown", false, cache.Unknown, "(active now none, generation "},
		// Another query detected green first.
		{"learned", true, cache.Green, "(active now green, generation "},
	} {
		t.Run("active="+tt.name, func(t *testing.T) {
			srv := newEngine(t, enginetest.Options{})
			conn := open(t, srv, func(cfg *client.Config) { cfg.PrefetchBytes = 1 })
			ctx := ctxT(t)
			rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if err := srv.SetActive(enginetest.Green); err != nil {
				t.Fatal(err)
			}
			if tt.learn {
				if _, _, err := readAll(ctx, conn, "SELECT 1"); err != nil {
					t.Fatalf("query after the switch: %v", err)
				}
				waitColour(t, conn, cache.Green)
			}
			probes, calls := conn.Stats().Coordinator.Probes, len(srv.Log())

			n := 0
			for rows.Next(ctx) {
				n++
			}
			err = rows.Err()
			var se *client.StrategyError
			if !errors.As(err, &se) || !errors.Is(err, client.ErrWrongStrategy) {
				t.Fatalf("after %d rows: Err() = %v, want a StrategyError", n, err)
			}
			snap := conn.Coordinator().Snapshot()
			if se.Sent != cache.Blue || se.Active != tt.wantActive || se.QueryID == "" || se.Generation != snap.Generation {
				t.Errorf("StrategyError = %+v, want sent blue, active %q, a query id, generation %d", se, tt.wantActive, snap.Generation)
			}
			if status.Code(err) != codes.Unknown {
				t.Errorf("status.Code = %v, want Unknown from the engine's 456", status.Code(err))
			}
			if !strings.Contains(err.Error(), "rejected colour blue") || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not name blue and %q", err, tt.wantText)
			}
			if p := conn.Stats().Coordinator.Probes; p != probes {
				t.Errorf("%d probes while the rows failed, want none", p-probes)
			}
			for _, c := range srv.Log()[calls:] {
				if c.Method != e6xpb.QueryEngineService_GetNextResultBatch_FullMethodName {
					t.Errorf("engine saw %s while the rows failed; want only the rejected fetch", c.Method)
				}
			}
			if got := conn.Coordinator().Pins(); got.Total() != 0 {
				t.Errorf("pins left: %+v", got)
			}
		})
	}
}

// Connect learns the colour and opens a session with authenticate alone,
// so it works against an engine without the optional healthCheck; once
// connected it does no I/O. Bad credentials surface there.
func TestConnect(t *testing.T) {
	srv := newEngine(t, enginetest.Options{NoHealthCheck: true, Start: enginetest.Green})
	conn := open(t, srv)
	ctx := ctxT(t)
	if err := conn.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got := conn.Coordinator().Strategy(); got != cache.Green {
		t.Errorf("colour after Connect = %v, want green", got)
	}
	for _, c := range srv.Log() {
		if c.Method != e6xpb.QueryEngineService_Authenticate_FullMethodName {
			t.Errorf("Connect called %s; want authenticate only", c.Method)
		}
	}
	calls := srv.Counts().Calls
	if err := conn.Connect(ctx); err != nil {
		t.Fatalf("second Connect: %v", err)
	}
	if n := srv.Counts().Calls; n != calls {
		t.Errorf("second Connect made %d calls, want none", n-calls)
	}
	if err := conn.HealthCheck(ctx); status.Code(err) != codes.Unimplemented {
		t.Errorf("HealthCheck() = %v, want Unimplemented from an engine without it", err)
	}

	bad := open(t, srv, func(cfg *client.Config) { cfg.Password = "wrong-pw-123" })
	if err := bad.Connect(ctx); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Connect with a wrong password = %v, want Unauthenticated", err)
	}
}

// TestOneRejectionPerSwitch: once the engine has rejected one query's
// colour, the other queries of that colour in flight in the process end
// without another call (the engine would reject them too), so a switch
// costs the process one 456 however many queries were under way; and a
// query prepared after the rejection, on the new colour, is not affected.
func TestOneRejectionPerSwitch(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	conn := open(t, srv, func(cfg *client.Config) { cfg.PrefetchBytes = 1 })
	ctx := ctxT(t)
	var open []*client.Rows
	for range 4 {
		rows, err := conn.Query(ctx, "SELECT * FROM demo.numbers")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		open = append(open, rows)
	}
	if err := srv.SetActive(enginetest.Green); err != nil {
		t.Fatal(err)
	}
	calls := len(srv.Log())
	for i, rows := range open {
		for rows.Next(ctx) {
		}
		if err := rows.Err(); !errors.Is(err, client.ErrWrongStrategy) {
			t.Fatalf("rows %d: Err() = %v, want a rejection", i, err)
		}
		var se *client.StrategyError
		if !errors.As(rows.Err(), &se) || se.Sent != cache.Blue {
			t.Errorf("rows %d: Err() = %v, want a StrategyError for blue", i, rows.Err())
		}
	}
	var rejected int
	for _, c := range srv.Log()[calls:] {
		if c.Rejected() {
			rejected++
		} else {
			t.Errorf("engine saw %s (%s) after the switch; want only the first rejected fetch", c.Method, c.Strategy)
		}
	}
	if rejected != 1 {
		t.Errorf("engine rejected %d calls, want 1", rejected)
	}
	if n := conn.Stats().Coordinator.WrongStrategy; n != 1 {
		t.Errorf("WrongStrategy = %d, want 1: the ended queries are not rejections of the engine", n)
	}
	if got, _, err := readAll(ctx, conn, "SELECT * FROM demo.numbers"); err != nil || len(got) != enginetest.NumbersRows {
		t.Errorf("a query after the switch: %d rows, %v; want %d rows", len(got), err, enginetest.NumbersRows)
	}
}
