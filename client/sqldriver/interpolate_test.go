package sqldriver_test

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

type valuer struct{ v any }

func (v valuer) Value() (driver.Value, error) { return v.v, nil }

type myInt int

type failing struct{}

func (failing) Value() (driver.Value, error) { return nil, errors.New("no value today") }

type decValuer struct{}

func (decValuer) Value() (driver.Value, error) {
	return decimal(5, 1), nil
}

// decimal is the sqldriver.Decimal unscaled × 10^-scale.
func decimal(unscaled int64, scale int32) sqldriver.Decimal {
	d, err := client.NewDecimal(big.NewInt(unscaled), scale)
	if err != nil {
		panic(err)
	}
	return sqldriver.Decimal{Decimal: d}
}

// Arguments of every supported type reach the engine as literals that its
// parser reads back to the same values, '?' in literals and comments
// aside.
func TestParameters(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	db := openDB(t, srv)
	ctx := ctxT(t)
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.FixedZone("x", 3600))
	n := int64(-5)
	var nilp *int64
	dec := decimal(-12345, 2)
	args := []any{
		"it's a '?' -- not /* a */ comment\\", "", int64(math.MinInt64), uint64(math.MaxUint64), int8(-8), myInt(7),
		-0.1, float32(0.5), math.SmallestNonzeroFloat64, true, false, nil, []byte{0, '\'', 0xff}, ts,
		&n, nilp, valuer{"v"}, dec, &dec, []byte(nil), decValuer{}, (*valuer)(nil),
	}
	want := []any{
		"it's a '?' -- not /* a */ comment\\", "", int64(math.MinInt64),
		new(big.Int).SetUint64(math.MaxUint64).String(), int64(-8), int64(7),
		-0.1, 0.5, math.SmallestNonzeroFloat64, true, false, nil, []byte{0, '\'', 0xff}, ts.UTC(),
		int64(-5), nil, "v", "-123.45", "-123.45", nil, "0.5", nil,
	}
	query := "SELECT ?, /* ? */ ?, ?, -- ?\n ?, ?, ?, '?', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	got := make([]any, len(want)+1)
	ptrs := make([]any, len(got))
	for i := range got {
		ptrs[i] = &got[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	want = append(want[:6], append([]any{"?"}, want[6:]...)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

// decomposer is a decimal of database/sql's decimal interface.
type decomposer struct {
	form     byte
	negative bool
	coef     int64
	exp      int32
}

func (d decomposer) Decompose([]byte) (byte, bool, []byte, int32) {
	return d.form, d.negative, big.NewInt(d.coef).Bytes(), d.exp
}

// Decimal arguments of every kind (a Decimal, a client.Decimal, one with
// a negative scale, a type with a Decompose method) are written as exact
// numbers of their scale, read back as such; a Decompose without a
// literal is an error.
func TestDecimalParameters(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	db := openDB(t, srv)
	ctx := ctxT(t)
	cdec := func(u int64, scale int32) client.Decimal { return decimal(u, scale).Decimal }
	args := []any{
		decimal(1250, 2), cdec(-5, 3), cdec(12, -2), &sqldriver.Decimal{Decimal: cdec(-1, 0)},
		decomposer{coef: 1250, exp: -2}, decomposer{negative: true, coef: 12345, exp: -7}, decomposer{coef: 7, exp: 3},
		decomposer{coef: 0, exp: -2},
	}
	want := []any{"12.50", "-0.005", int64(1200), int64(-1), "12.50", "-0.0012345", int64(7000), "0.00"}
	var got [8]any
	ptrs := make([]any, len(got))
	for i := range got {
		ptrs[i] = &got[i]
	}
	if err := db.QueryRowContext(ctx, "SELECT ?, ?, ?, ?, ?, ?, ?, ?", args...).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got[:]); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		arg  decomposer
		want string
	}{
		{decomposer{form: 2}, "argument 1: an infinite or NaN decimal has no SQL literal"},
		{decomposer{coef: 1, exp: 1001}, "argument 1: the decimal's exponent 1001 is too large"},
		{decomposer{coef: 1, exp: -1001}, "argument 1: the decimal's exponent -1001 is too small"},
	} {
		if _, err := db.QueryContext(ctx, "SELECT ?", tt.arg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Query(%+v): %v, want an error with %q", tt.arg, err, tt.want)
		}
	}
}

// Wrong counts, unsupported types, named arguments and values without a
// literal are errors that name the argument, and nothing reaches the
// engine.
func TestParameterErrors(t *testing.T) {
	srv := newEngine(t, enginetest.Options{})
	db := openDB(t, srv)
	ctx := ctxT(t)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	tests := []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT ?, ?", []any{1}, "the query has 2 placeholders, got 1 arguments"},
		{"SELECT '?'", []any{1}, "the query has 0 placeholders, got 1 arguments"},
		{"SELECT ? -- ?", nil, "the query has 1 placeholders, got 0 arguments"},
		{"SELECT ?, ?", []any{1, struct{}{}}, "argument 2: unsupported type struct {}"},
		{"SELECT ?", []any{[]int{1}}, "argument 1: unsupported type []int"},
		{"SELECT ?", []any{sql.Named("x", 1)}, "argument 1 (x): named arguments are not supported"},
		{"SELECT ?, ?", []any{1, "a\xffb"}, "argument 2: the string is not valid UTF-8"},
		{"SELECT ?", []any{math.NaN()}, "argument 1: NaN has no SQL literal"},
		{"SELECT ?", []any{math.Inf(-1)}, "argument 1: -Inf has no SQL literal"},
		{"SELECT ?", []any{time.Date(2024, 1, 1, 0, 0, 0, 1, time.UTC)}, "argument 1: the time has nanoseconds"},
		{"SELECT ?", []any{big.NewInt(1)}, "argument 1: unsupported type *big.Int"},
		{"SELECT ?, ?", []any{1, failing{}}, "argument 2: the sqldriver_test.failing's Value method failed: no value today"},
	}
	for _, tt := range tests {
		_, err := db.QueryContext(ctx, tt.query, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Query(%q, %v): %v, want an error with %q", tt.query, tt.args, err, tt.want)
		}
		_, err = db.ExecContext(ctx, tt.query, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Exec(%q, %v): %v, want an error with %q", tt.query, tt.args, err, tt.want)
		}
	}
	// Prepared, database/sql checks the count itself.
	stmt, err := db.PrepareContext(ctx, "SELECT ?, '?'")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if _, err := stmt.QueryContext(ctx); err == nil || !strings.Contains(err.Error(), "expected 1 arguments, got 0") {
		t.Errorf("stmt.Query(): %v, want the count error", err)
	}
	var s1, s2 string
	if err := stmt.QueryRowContext(ctx, "a").Scan(&s1, &s2); err != nil || s1 != "a" || s2 != "?" {
		t.Errorf("stmt.QueryRow(a): %q %q %v", s1, s2, err)
	}
	for _, c := range srv.Log() {
		if strings.HasSuffix(c.Method, "/prepareStatementV2") && !c.Accepted {
			t.Errorf("a failed prepare reached the engine: %+v", c)
		}
	}
	if c := srv.Counts(); c.Prepared != 1 {
		t.Errorf("the engine prepared %d queries, want only the good one", c.Prepared)
	}
}

// FuzzInterpolate: any string, as an argument, reaches the fake engine
// as one literal that its parser reads back as that string, wherever the
// placeholder stands among literals and comments; so do integers and
// floats.
func FuzzInterpolate(f *testing.F) {
	srv := newEngine(f, enginetest.Options{})
	db := openDB(f, srv)
	f.Add("it's", int64(-1), 1.5, uint8(0))
	f.Add("'; DROP TABLE x; --", int64(math.MinInt64), -0.0, uint8(1))
	f.Add("\\'", int64(0), math.MaxFloat64, uint8(2))
	f.Add("*/ '?' /*", int64(5), -1e-300, uint8(3))
	f.Add("\n--\x00", int64(1), math.Inf(1), uint8(4))
	templates := []string{
		"SELECT ?, ?, ?",
		"SELECT ?, /* ? */ ?, -- ? '\n ?",
		"SELECT -?, ?, -?", // a minus before a negative number must not make a comment
		"SELECT '?''?', ?, ?, ?",
		"select\t? ,?,?;",
	}
	f.Fuzz(func(t *testing.T, s string, n int64, x float64, which uint8) {
		if !utf8.ValidString(s) || math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		tmpl := templates[int(which)%len(templates)]
		args, want := []any{s, n, x}, []any{s, n, x}
		switch {
		case strings.HasPrefix(tmpl, "SELECT -?"):
			if n == math.MinInt64 {
				n = 0
			}
			args, want = []any{n, s, x}, []any{-n, s, -x}
		case strings.HasPrefix(tmpl, "SELECT '?''?'"):
			want = append([]any{"?'?"}, want...)
		}
		rows, err := db.QueryContext(ctxT(t), tmpl, args...)
		if err != nil {
			t.Fatalf("Query(%q, %q, %d, %v): %v", tmpl, s, n, x, err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		got := make([]any, len(want))
		ptrs := make([]any, len(got))
		for i := range got {
			ptrs[i] = &got[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("Scan: %v (want %d columns)", err, len(got))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q with %q, %d, %v (-want +got):\n%s", tmpl, s, n, x, diff)
		}
		if rows.Next() {
			t.Fatal("more than one row")
		}
	})
}
