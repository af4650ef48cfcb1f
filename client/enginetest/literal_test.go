package enginetest

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/internal/resultenc"
)

func TestParseLiterals(t *testing.T) {
	dec := func(u int64, scale int32) exactNumber {
		return exactNumber{unscaled: big.NewInt(u), scale: scale}
	}
	minPlusOne, _ := new(big.Int).SetString("9223372036854775808", 10)
	for _, tt := range []struct {
		sql  string
		want []any
	}{
		{"SELECT 'it''s', '', 'a\\'", []any{"it's", "", "a\\"}},
		{"select 42, -42, (-7), -(-7), -(5)", []any{int64(42), int64(-42), int64(-7), int64(7), int64(-5)}},
		{"SELECT 12.50, -0.5, 1.5e+00, -2E-3, -(1.5e0)", []any{dec(1250, 2), dec(-5, 1), 1.5, -0.002, -1.5}},
		{"SELECT -(-9223372036854775808), 9223372036854775808", []any{exactNumber{unscaled: minPlusOne}, exactNumber{unscaled: minPlusOne}}},
		{"SELECT TRUE, false, NULL, X'00ff', x''", []any{true, false, nil, []byte{0, 0xff}, []byte{}}},
		{"SELECT TIMESTAMP '2024-02-29 13:14:15.123456', TIMESTAMP '12345-01-01 00:00:00'",
			[]any{time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"  SELECT /* a ? */ 1 -- rest\n , '--' ; ", []any{int64(1), "--"}},
		{"SELECT 1 /* open", []any{int64(1)}},
	} {
		got, err := parseLiterals(tt.sql)
		if err != nil {
			t.Errorf("ParseLiterals(%q): %v", tt.sql, err)
			continue
		}
		bigEq := cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })
		if diff := cmp.Diff(tt.want, got, bigEq, cmp.AllowUnexported(exactNumber{})); diff != "" {
			t.Errorf("ParseLiterals(%q) (-want +got):\n%s", tt.sql, diff)
		}
	}
	for _, sql := range []string{
		"SELECT", "SELECT 'open", "SELECT \"id\"", "SELECT `id`", "SELECT 1 2", "SELECT 1,", "SELECT x", "SELECT 1abc",
		"SELECT --1\n", "SELECT -('a')", "SELECT X'0g'", "SELECT TIMESTAMP '2024-13-01 00:00:00'", "DELETE 1", "SELECT (1",
	} {
		if got, err := ParseLiterals(sql); err == nil {
			t.Errorf("ParseLiterals(%q) = %v, want an error", sql, got)
		} else if !strings.Contains(err.Error(), "offset") {
			t.Errorf("ParseLiterals(%q): %v, want the offset named", sql, err)
		}
	}
	// The result: a DECIMAL128 of the literal's scale; one beyond 128 bits
	// is an error.
	res, err := ParseLiterals("SELECT -12.50")
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Chunks[0].Vectors[0]; res.Columns[0].Type != "DECIMAL128" || v.Data.Scale != 2 {
		t.Errorf("SELECT -12.50: column %+v, scale %d; want DECIMAL128, scale 2", res.Columns[0], v.Data.Scale)
	} else if u, err := v.Value(0); err != nil || u.(*big.Int).Int64() != -1250 {
		t.Errorf("SELECT -12.50: unscaled %v, %v; want -1250", u, err)
	}
	if _, err := ParseLiterals("SELECT 1" + strings.Repeat("0", 40)); err == nil {
		t.Error("ParseLiterals of a 41-digit number succeeded, want an error: it does not fit in 128 bits")
	}
}

// A literal query is served with a column per literal; one that does not
// parse is an unsupported query; SetResult and the built-in queries come
// first.
func TestLiteralQuery(t *testing.T) {
	s := newServer(t, Options{})
	sess := auth(t, s, "blue")
	id := prepare(t, s, "blue", sess, "SELECT 'a', 1.5e0, NULL, -3")
	ctx := as(testCtx(t), "blue")
	md, err := s.Engine().GetResultMetadata(ctx, &e6xpb.GetResultMetadataRequest{SessionId: sess, QueryId: id})
	if err != nil {
		t.Fatal(err)
	}
	n, cols, err := resultenc.DecodeMetadata(md.GetResultMetaData())
	if err != nil {
		t.Fatal(err)
	}
	want := []resultenc.Column{{Name: "_col0", Type: "STRING"}, {Name: "_col1", Type: "DOUBLE"}, {Name: "_col2", Type: "NULL"}, {Name: "_col3", Type: "LONG"}}
	if n != 1 || !cmp.Equal(want, cols, cmp.Comparer(func(a, b resultenc.Column) bool { return a.Name == b.Name && a.Type == b.Type })) {
		t.Errorf("metadata: %d rows, %+v; want 1 row, %+v", n, cols, want)
	}
	b, err := s.Engine().GetNextResultBatch(ctx, &e6xpb.GetNextResultBatchRequest{SessionId: sess, QueryId: id})
	if err != nil {
		t.Fatal(err)
	}
	chunk, err := resultenc.DecodeChunk(b.GetResultBatch())
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for i := range chunk.Vectors {
		v, err := chunk.Vectors[i].Value(0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if diff := cmp.Diff([]any{"a", 1.5, nil, int64(-3)}, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	_, err = s.Engine().PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sess, QueryString: "SELECT 'open"})
	wantCode(t, err, codes.InvalidArgument)
}
