package client_test

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/e6coord/e6coord/client"
)

func TestDecimal(t *testing.T) {
	max38 := strings.Repeat("9", 38)
	tests := []struct {
		unscaled string
		scale    int32
		want     string
		float    float64
	}{
		{"0", 0, "0", 0},
		{"0", 2, "0.00", 0},
		{"0", -3, "0", 0},
		{"-12345", 2, "-123.45", -123.45},
		{"1", 3, "0.001", 0.001},
		{"-1", 3, "-0.001", -0.001},
		{"12", -2, "1200", 1200},
		{"9223372036854775807", 0, "9223372036854775807", math.MaxInt64},
		{"-9223372036854775808", 0, "-9223372036854775808", math.MinInt64},
		{"-9223372036854775809", 1, "-922337203685477580.9", -922337203685477580.9},
		{max38, 0, max38, 1e38},
		{"-" + max38, 0, "-" + max38, -1e38},
		{max38, 18, strings.Repeat("9", 20) + "." + strings.Repeat("9", 18), 1e20},
		{"-" + max38, 18, "-" + strings.Repeat("9", 20) + "." + strings.Repeat("9", 18), -1e20},
		{max38, 38, "0." + max38, 1},
		{"-" + max38, 38, "-0." + max38, -1},
		{"170141183460469231731687303715884105727", 0, "170141183460469231731687303715884105727", 1.7014118346046923e38},    // 2^127 − 1
		{"-170141183460469231731687303715884105728", 0, "-170141183460469231731687303715884105728", -1.7014118346046923e38}, // −2^127
		{"170141183460469231731687303715884105727", 38, "1.70141183460469231731687303715884105727", 1.7014118346046923},
		{"5", 3, "0.005", 0.005},
		{"-5", 1, "-0.5", -0.5},
		{"12", -3, "12000", 12000},
	}
	for _, tt := range tests {
		u, _ := new(big.Int).SetString(tt.unscaled, 10)
		d, err := client.NewDecimal(u, tt.scale)
		if err != nil {
			t.Fatalf("NewDecimal(%s, %d): %v", tt.unscaled, tt.scale, err)
		}
		if got := d.String(); got != tt.want {
			t.Errorf("NewDecimal(%s, %d).String() = %q, want %q", tt.unscaled, tt.scale, got, tt.want)
		}
		if d.Unscaled().Cmp(u) != 0 || d.Scale() != tt.scale || d.Sign() != u.Sign() {
			t.Errorf("NewDecimal(%s, %d) = %v, %d, sign %d", tt.unscaled, tt.scale, d.Unscaled(), d.Scale(), d.Sign())
		}
		want, _ := new(big.Rat).SetString(tt.want)
		if d.Rat().Cmp(want) != 0 {
			t.Errorf("NewDecimal(%s, %d).Rat() = %v, want %v", tt.unscaled, tt.scale, d.Rat(), want)
		}
		if got := d.Float64(); got != tt.float {
			t.Errorf("NewDecimal(%s, %d).Float64() = %v, want %v", tt.unscaled, tt.scale, got, tt.float)
		}
		again, _ := client.NewDecimal(new(big.Int).Set(u), tt.scale)
		if again != d || !again.Equal(d) {
			t.Errorf("two decimals of %s at %d differ", tt.unscaled, tt.scale)
		}
	}
	for _, s := range []string{"170141183460469231731687303715884105728", "-170141183460469231731687303715884105729"} {
		u, _ := new(big.Int).SetString(s, 10)
		if _, err := client.NewDecimal(u, 0); err == nil {
			t.Errorf("NewDecimal(%s) succeeded, want an error: it does not fit in 128 bits", s)
		}
	}
	one, _ := client.NewDecimal(big.NewInt(1), 0)
	ten, _ := client.NewDecimal(big.NewInt(10), 1)
	if one == ten || one.Equal(ten) || one.Rat().Cmp(ten.Rat()) != 0 {
		t.Error("1 and 1.0: want different representations of the same number")
	}
	if (client.Decimal{}).String() != "0" {
		t.Errorf("zero Decimal is %q", client.Decimal{}.String())
	}
}
