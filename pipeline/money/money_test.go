package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestMulDivFloorAgainstBig(t *testing.T) {
	const seed = 20260701
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 20000; i++ {
		a, b, c := rng.Uint64(), rng.Uint64(), rng.Uint64()>>uint(rng.IntN(64))
		if i%4 == 0 {
			a >>= uint(rng.IntN(64))
		}
		q, r, ok := MulDivFloor(a, b, c)
		if c == 0 {
			if ok {
				t.Fatalf("seed %d: c=0 must not be ok", seed)
			}
			continue
		}
		p := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
		bq, br := new(big.Int).QuoRem(p, new(big.Int).SetUint64(c), new(big.Int))
		if !bq.IsUint64() {
			if ok {
				t.Fatalf("seed %d: %d*%d/%d overflows but ok", seed, a, b, c)
			}
			continue
		}
		if !ok || q != bq.Uint64() || r != br.Uint64() {
			t.Fatalf("seed %d: MulDivFloor(%d,%d,%d) = %d,%d,%v; want %d,%d", seed, a, b, c, q, r, ok, bq, br)
		}
	}
}

func TestMulDivFloorNear2to63(t *testing.T) {
	m := uint64(math.MaxInt64)
	// (2^63-1) * (2^63-1) / (2^63-1) = 2^63-1 exactly: the product needs 126 bits.
	q, r, ok := MulDivFloor(m, m, m)
	if !ok || q != m || r != 0 {
		t.Fatalf("got %d %d %v", q, r, ok)
	}
	// (2^63-1) * (2^63-2) / (2^64-1): 126-bit product, 64-bit divisor.
	q, r, ok = MulDivFloor(m, m-1, math.MaxUint64)
	p := new(big.Int).Mul(new(big.Int).SetUint64(m), new(big.Int).SetUint64(m-1))
	bq, br := new(big.Int).QuoRem(p, new(big.Int).SetUint64(math.MaxUint64), new(big.Int))
	if !ok || q != bq.Uint64() || r != br.Uint64() {
		t.Fatalf("got %d %d %v want %v %v", q, r, ok, bq, br)
	}
}

func TestApplyBps(t *testing.T) {
	cases := []struct {
		amount E8s
		bps    Bps
		want   E8s
	}{
		{150_000_000_000, 1000, 15_000_000_000},
		{9999, 1, 0},        // floor(9999/10000) = 0
		{10001, 5000, 5000}, // floor(10001*5000/10000) = floor(5000.5)
		{MaxE8s, 10000, MaxE8s},
		{MaxE8s, 9999, 0}, // want computed below exactly with math/big
		{0, 5000, 0},
	}
	// exact value of floor((2^63-1)*9999/10000) via big.
	p := new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(9999))
	cases[4].want = E8s(p.Quo(p, big.NewInt(10000)).Int64())
	for _, c := range cases {
		if got := ApplyBps(c.amount, c.bps); got != c.want {
			t.Errorf("ApplyBps(%d, %d) = %d, want %d", c.amount, c.bps, got, c.want)
		}
	}
}

func TestXDRToE8s(t *testing.T) {
	// 10 XDR (100,000 permyriad) at 3.5 XDR/ICP (35,000 permyriad):
	// floor(100000 * 1e8 / 35000) = floor(285714285.71...) = 285714285 e8s.
	if e, ok := XDRToE8s(100_000, 35_000); !ok || e != 285_714_285 {
		t.Fatalf("got %d %v", e, ok)
	}
	if _, ok := XDRToE8s(1, 0); ok {
		t.Fatal("rate 0 must not convert")
	}
	if _, ok := XDRToE8s(XDRPermyriad(MaxE8s), 1); ok {
		t.Fatal("result beyond MaxE8s must report !fits")
	}
}

func TestAddSub(t *testing.T) {
	if _, ok := AddE8s(MaxE8s, 1); ok {
		t.Fatal("overflow not detected")
	}
	if s, ok := AddE8s(MaxE8s-1, 1); !ok || s != MaxE8s {
		t.Fatal("max sum")
	}
	if _, ok := SubE8s(1, 2); ok {
		t.Fatal("negative not detected")
	}
	if err := E8s(-1).Validate(); err == nil {
		t.Fatal("negative valid")
	}
	if err := Bps(10001).Validate(); err == nil {
		t.Fatal("bps > 10000 valid")
	}
	if err := Bps(10000).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := XDRPermyriadPerICP(0).Validate(); err == nil {
		t.Fatal("rate 0 valid")
	}
}

func TestParseFormatICP(t *testing.T) {
	cases := []struct {
		in   string
		want E8s
		err  bool
	}{
		{"12.3456789 ICP", 1_234_567_890, false},
		{"0.00000001", 1, false},
		{"100", 10_000_000_000, false},
		{"0.000000001", 0, true},
		{"-1", 0, true},
		{"abc", 0, true},
		{"92233720368.54775807", MaxE8s, false},
		{"92233720368.54775808", 0, true},
	}
	for _, c := range cases {
		got, err := ParseICP(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseICP(%q) = %d, %v; want %d, err=%v", c.in, got, err, c.want, c.err)
		}
	}
	if s := FormatICP(1_234_567_890); s != "12.34567890" {
		t.Errorf("FormatICP = %q", s)
	}
	if s := FormatICP(MaxE8s); s != "92233720368.54775807" {
		t.Errorf("FormatICP(max) = %q", s)
	}
	if s := FormatPercent(1, 3, 2); s != "33.33" {
		t.Errorf("FormatPercent(1,3) = %q", s)
	}
	if s := FormatPercent(2, 3, 2); s != "66.66" { // truncated, not rounded
		t.Errorf("FormatPercent(2,3) = %q", s)
	}
	if s := FormatPercent(3, 3, 4); s != "100.0000" {
		t.Errorf("FormatPercent(3,3) = %q", s)
	}
}

func TestFormatICPUint64(t *testing.T) {
	if s := FormatICPUint64(math.MaxUint64); s != "184467440737.09551615" {
		t.Fatalf("got %q", s)
	}
	if s := FormatICPUint64(1); s != "0.00000001" {
		t.Fatalf("got %q", s)
	}
}
