package client_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/e6coord/e6coord/client"
)

// AppendText writes what String does, for the extremes of DECIMAL128, every
// sign and random values of every size, at scales from -3 to 40, and
// allocates nothing into a buffer with room.
func TestDecimalAppendText(t *testing.T) {
	one := big.NewInt(1)
	max := new(big.Int).Sub(new(big.Int).Lsh(one, 127), one)
	vals := []*big.Int{big.NewInt(0), one, big.NewInt(-1), max, new(big.Int).Neg(max), new(big.Int).Neg(new(big.Int).Lsh(one, 127)),
		new(big.Int).SetUint64(1 << 63), new(big.Int).Lsh(one, 64), new(big.Int).Neg(new(big.Int).Lsh(one, 64)), new(big.Int).SetUint64(10_000_000_000_000_000_000)}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := new(big.Int).SetUint64(rng.Uint64()) // up to 127 bits, any size
		n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(rng.Uint64()))
		n.Rsh(n, uint(1+rng.IntN(127)))
		if rng.IntN(2) == 0 {
			n.Neg(n)
		}
		vals = append(vals, n)
	}
	for _, v := range vals {
		for scale := int32(-3); scale <= 40; scale++ {
			d, err := client.NewDecimal(v, scale)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.AppendText(nil)
			if err != nil || string(got) != d.String() {
				t.Fatalf("AppendText(%v at scale %d) = %q, %v; String() = %q", v, scale, got, err, d.String())
			}
		}
	}
	d, _ := client.NewDecimal(new(big.Int).Neg(max), 20)
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf, _ = d.AppendText(buf[:0]) }); n != 0 {
		t.Errorf("AppendText allocates %v times", n)
	}
}
