package enginetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/e6coord/e6coord/client/internal/resultenc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ParseLiterals parses a literal query, "SELECT lit, lit, ...", as the
// fake engine does: a query that no built-in or [Server.SetResult] result
// answers and that parses returns one row holding the literals, column i
// named "_col" and i. The literals, with the quoting rules of standard
// SQL, are:
//
//	'text'        STRING; a quote inside is doubled ('it''s'); a backslash is an ordinary character
//	X'0aff'       BINARY, in hex digits
//	42, -42       LONG (beyond the int64 range: DECIMAL128 of scale 0)
//	12.50, -0.5   DECIMAL128, of the scale of its fraction
//	1.5e+00       DOUBLE
//	TRUE, FALSE   BOOLEAN
//	NULL          NULL
//	TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.ffffff]'   TIMESTAMP in UTC; the year of four digits or more
//	( lit )       the literal
//	-( lit )      the number negated
//
// Keywords are case-insensitive. White space, line comments (-- to the
// end of the line) and block comments (/* to */) may stand between
// tokens. ParseLiterals returns the result the fake engine answers the
// query with, for tests that check a client's quoting; or an error naming
// the byte offset of the first thing that is not a literal query, or the
// literal that does not fit its type (a DECIMAL128 beyond 128 bits).
func ParseLiterals(sql string) (Result, error) {
	vals, err := parseLiterals(sql)
	if err != nil {
		return Result{}, err
	}
	return literalsResult(vals)
}

// exactNumber is an exact numeric literal, unscaled × 10^-scale, sent as
// a DECIMAL128.
type exactNumber struct {
	unscaled *big.Int
	scale    int32
}

// parseLiterals returns the literals of a literal query: string, []byte,
// int64, exactNumber, float64, bool, nil or time.Time.
func parseLiterals(sql string) ([]any, error) {
	p := &litParser{s: sql}
	p.space()
	if !p.keyword("SELECT") {
		return nil, p.errorf("want SELECT")
	}
	var vals []any
	for {
		p.space()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.space()
		if p.eat(',') {
			continue
		}
		break
	}
	for p.eat(';') {
		p.space()
	}
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected text after the literals")
	}
	return vals, nil
}

type litParser struct {
	s string
	i int
}

func (p *litParser) errorf(format string, args ...any) error {
	return fmt.Errorf("syntax error at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *litParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// space skips white space and comments.
func (p *litParser) space() {
	for p.i < len(p.s) {
		switch {
		case strings.ContainsRune(" \t\r\n\f\v", rune(p.s[p.i])):
			p.i++
		case strings.HasPrefix(p.s[p.i:], "--"):
			end := strings.IndexByte(p.s[p.i:], '\n')
			if end < 0 {
				p.i = len(p.s)
				return
			}
			p.i += end + 1
		case strings.HasPrefix(p.s[p.i:], "/*"):
			end := strings.Index(p.s[p.i+2:], "*/")
			if end < 0 {
				p.i = len(p.s) // an open comment runs to the end
				return
			}
			p.i += 2 + end + 2
		default:
			return
		}
	}
}

// keyword eats kw, case-insensitively, if a word boundary follows it.
func (p *litParser) keyword(kw string) bool {
	if len(p.s)-p.i < len(kw) || !strings.EqualFold(p.s[p.i:p.i+len(kw)], kw) {
		return false
	}
	if j := p.i + len(kw); j < len(p.s) && isWordByte(p.s[j]) {
		return false
	}
	p.i += len(kw)
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// quoted reads a '...' literal at p.i.
func (p *litParser) quoted() (string, error) {
	if !p.eat('\'') {
		return "", p.errorf("want a quoted string")
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if p.eat('\'') {
			b.WriteByte('\'')
			continue
		}
		return b.String(), nil
	}
	return "", p.errorf("unterminated string literal")
}

func (p *litParser) literal() (any, error) {
	if p.i >= len(p.s) {
		return nil, p.errorf("want a literal")
	}
	switch c := p.s[p.i]; {
	case c == '(':
		p.i++
		p.space()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(')') {
			return nil, p.errorf("want )")
		}
		return v, nil
	case c == '\'':
		return p.quoted()
	case c == '"' || c == '`':
		return nil, p.errorf("a quoted identifier is not a literal")
	case c == '-' && strings.HasPrefix(strings.TrimLeft(p.s[p.i+1:], " \t\r\n"), "("):
		p.i++
		p.space()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if v, ok := negate(v); ok {
			return v, nil
		}
		return nil, p.errorf("only a number can be negated")
	case c == '-' || c == '+' || c == '.' || '0' <= c && c <= '9':
		return p.number()
	}
	switch {
	case p.keyword("TRUE"):
		return true, nil
	case p.keyword("FALSE"):
		return false, nil
	case p.keyword("NULL"):
		return nil, nil
	case p.keyword("TIMESTAMP"):
		p.space()
		at := p.i
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		t, err := parseTimestamp(s)
		if err != nil {
			p.i = at
			return nil, p.errorf("%v", err)
		}
		return t, nil
	}
	if p.s[p.i] == 'X' || p.s[p.i] == 'x' {
		if p.i+1 < len(p.s) && p.s[p.i+1] == '\'' {
			p.i++
			s, err := p.quoted()
			if err != nil {
				return nil, err
			}
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, p.errorf("bad hex in a binary literal")
			}
			return b, nil
		}
	}
	return nil, p.errorf("want a literal")
}

// negate returns -v for a number; the negation of the smallest LONG is a
// DECIMAL128. It reports false for anything else.
func negate(v any) (any, bool) {
	switch x := v.(type) {
	case int64:
		if x == math.MinInt64 {
			return exactNumber{unscaled: new(big.Int).Neg(big.NewInt(x))}, true
		}
		return -x, true
	case float64:
		return -x, true
	case exactNumber:
		return exactNumber{unscaled: new(big.Int).Neg(x.unscaled), scale: x.scale}, true
	}
	return nil, false
}

// number reads an integer, exact decimal or approximate literal.
func (p *litParser) number() (any, error) {
	start := p.i
	if p.s[p.i] == '-' || p.s[p.i] == '+' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intDigits := digits()
	fracDigits, hasPoint := 0, false
	if p.eat('.') {
		hasPoint = true
		fracDigits = digits()
	}
	if intDigits+fracDigits == 0 {
		p.i = start
		return nil, p.errorf("want a number")
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("want the exponent's digits")
		}
		f, err := strconv.ParseFloat(p.s[start:p.i], 64)
		if err != nil {
			return nil, p.errorf("bad approximate number")
		}
		return f, nil
	}
	text := p.s[start:p.i]
	if p.i < len(p.s) && isWordByte(p.s[p.i]) {
		return nil, p.errorf("a number runs into a word")
	}
	if !hasPoint {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
	}
	u, ok := new(big.Int).SetString(strings.Replace(strings.TrimPrefix(text, "+"), ".", "", 1), 10)
	if !ok {
		return nil, p.errorf("bad number")
	}
	return exactNumber{unscaled: u, scale: int32(fracDigits)}, nil
}

// parseTimestamp reads "yyyy-mm-dd hh:mm:ss[.ffffff]", the year of four
// digits or more.
func parseTimestamp(s string) (time.Time, error) {
	dash := strings.IndexByte(s, '-')
	if dash < 4 {
		return time.Time{}, errors.New("bad timestamp")
	}
	year, err := strconv.Atoi(s[:dash])
	if err != nil || year < 1 {
		return time.Time{}, errors.New("bad timestamp year")
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999", "2000"+s[dash:])
	if err != nil {
		return time.Time{}, errors.New("bad timestamp")
	}
	return t.AddDate(year-2000, 0, 0), nil
}

// literalResult returns the result of a literal query, or ok false if sql
// is not one.
func literalResult(sql string) (r *encodedResult, ok bool, err error) {
	vals, err := parseLiterals(sql)
	if err != nil {
		return nil, false, nil
	}
	res, err := literalsResult(vals)
	if err != nil {
		return nil, true, status.Error(codes.InvalidArgument, err.Error())
	}
	e, err := encodeResult(res)
	if err != nil {
		return nil, true, status.Error(codes.InvalidArgument, err.Error())
	}
	return e, true, nil
}

// literalsResult returns the one-row result of the literals vals, column
// i named "_col" and i.
func literalsResult(vals []any) (Result, error) {
	res := Result{Chunks: []resultenc.Chunk{{Size: 1}}}
	for i, v := range vals {
		vec, typ, err := literalVector(v)
		if err != nil {
			return Result{}, err
		}
		res.Columns = append(res.Columns, resultenc.Column{Name: "_col" + strconv.Itoa(i), Type: typ})
		res.Chunks[0].Vectors = append(res.Chunks[0].Vectors, vec)
	}
	return res, nil
}

func literalVector(v any) (resultenc.Vector, string, error) {
	switch x := v.(type) {
	case string:
		return resultenc.Strings([]string{x}, nil), "STRING", nil
	case []byte:
		return resultenc.Vector{Size: 1, Type: resultenc.TypeBinary,
			Data: resultenc.Data{Kind: resultenc.KindVarcharData, Strings: []string{string(x)}}}, "BINARY", nil
	case int64:
		return resultenc.Longs([]int64{x}, nil), "LONG", nil
	case float64:
		return resultenc.Doubles([]float64{x}, nil), "DOUBLE", nil
	case bool:
		return resultenc.Bools([]bool{x}, nil), "BOOLEAN", nil
	case nil:
		vec, err := resultenc.Constant(resultenc.TypeNull, 1, nil)
		return vec, "NULL", err
	case time.Time:
		return resultenc.Times(resultenc.TypeTimestamp, []time.Time{x}, nil, nil), "TIMESTAMP", nil
	case exactNumber:
		vec, err := resultenc.Decimals([]*big.Int{x.unscaled}, x.scale, nil)
		return vec, "DECIMAL128", err
	}
	return resultenc.Vector{}, "", fmt.Errorf("no vector for %T", v)
}
