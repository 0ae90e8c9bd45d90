package payout

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

func ents() []schemas.Entitlement {
	return []schemas.Entitlement{
		{DAO: "d", Period: "2026-10-01", PoolID: "a", Role: "sponsor", Recipient: "x", OwedE8s: 1000, TransferE8s: 990, FeeE8s: 10},
		{DAO: "d", Period: "2026-10-01", PoolID: "a", Role: "sponsor", Recipient: "y", OwedE8s: 5, CarryOutE8s: 5},
		{DAO: "d", Period: "2026-10-01", PoolID: "a", Role: "hoster", Recipient: "h", OwedE8s: 300, TransferE8s: 290, FeeE8s: 10},
	}
}

func TestPlanTotalsAndDeterminism(t *testing.T) {
	m, err := Plan("d", "2026-10-01", ents(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Intents) != 2 || m.TotalAmountE8s != 1280 || m.TotalFeeE8s != 20 || m.CarriedE8s != 5 {
		t.Fatalf("got %d intents, amount %d, fee %d, carried %d", len(m.Intents), m.TotalAmountE8s, m.TotalFeeE8s, m.CarriedE8s)
	}
	// Reordered input: same manifest.
	e := ents()
	e[0], e[2] = e[2], e[0]
	m2, err := Plan("d", "2026-10-01", e, 42)
	if err != nil {
		t.Fatal(err)
	}
	if m2.SHA256 != m.SHA256 {
		t.Fatalf("manifest depends on input order: %s vs %s", m.SHA256, m2.SHA256)
	}
	// Another plan time: another manifest (created_at_time is bound).
	m3, _ := Plan("d", "2026-10-01", ents(), 43)
	if m3.SHA256 == m.SHA256 {
		t.Fatal("manifest does not bind created_at_nanos")
	}
	// The stored intents re-hash to the same manifest.
	r, err := FromIntents("d", "2026-10-01", m.Intents)
	if err != nil || r.SHA256 != m.SHA256 {
		t.Fatalf("FromIntents: %v %s", err, r.SHA256)
	}
	tampered := append([]schemas.PayoutIntent(nil), m.Intents...)
	tampered[0].AmountE8s++
	if _, err := FromIntents("d", "2026-10-01", tampered); err == nil {
		t.Fatal("a changed intent amount was not detected")
	}
}

func TestPlanRejectsBrokenEntitlements(t *testing.T) {
	cases := map[string]func(*schemas.Entitlement){
		"owed":     func(e *schemas.Entitlement) { e.OwedE8s++ },
		"negative": func(e *schemas.Entitlement) { e.TransferE8s = -1; e.OwedE8s = e.FeeE8s - 1 },
		"period":   func(e *schemas.Entitlement) { e.Period = "2026-11-01" },
	}
	for name, mut := range cases {
		e := ents()
		mut(&e[0])
		if _, err := Plan("d", "2026-10-01", e, 1); err == nil {
			t.Errorf("%s: broken entitlement accepted", name)
		}
	}
	e := ents()
	e = append(e, e[0])
	if _, err := Plan("d", "2026-10-01", e, 1); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate recipient: %v", err)
	}
}

func TestCheckConservation(t *testing.T) {
	pools := []schemas.PoolPeriod{{DAO: "d", Period: "2026-10-01", PoolID: "a", GrossE8s: 1305, HosterFeeE8s: 300, DAOFeeE8s: 0}}
	conserving := func() []schemas.Entitlement {
		e := ents()
		for i := range e {
			e[i].ShareE8s = e[i].OwedE8s
		}
		return e
	}
	if err := CheckConservation(pools, conserving()); err != nil {
		t.Fatalf("a conserving period was refused: %v", err)
	}
	cases := map[string]func(p []schemas.PoolPeriod, e []schemas.Entitlement){
		"gross":     func(p []schemas.PoolPeriod, e []schemas.Entitlement) { p[0].GrossE8s++ },
		"hoster":    func(p []schemas.PoolPeriod, e []schemas.Entitlement) { p[0].HosterFeeE8s--; p[0].DAOFeeE8s++ },
		"owed":      func(p []schemas.PoolPeriod, e []schemas.Entitlement) { e[0].CarryOutE8s++ },
		"no pool":   func(p []schemas.PoolPeriod, e []schemas.Entitlement) { e[1].PoolID = "b" },
		"no shares": func(p []schemas.PoolPeriod, e []schemas.Entitlement) { p[0].PoolID = "z" },
	}
	for name, mut := range cases {
		p := append([]schemas.PoolPeriod(nil), pools...)
		e := conserving()
		mut(p, e)
		if err := CheckConservation(p, e); err == nil {
			t.Errorf("%s: broken period accepted", name)
		}
	}
}
