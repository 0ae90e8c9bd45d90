package rates

import "testing"

func TestAverage30(t *testing.T) {
	const d0 = 20_000 * day
	obs := []Observation{
		{d0 + 10, 30_000}, {d0 + 500, 31_000}, // day 0: the later one counts
		{d0 + day, 32_000},
		{d0 + 2*day, 33_000},
		{d0 + 45*day, 99_000}, // after the instant: ignored
	}
	avg, n, err := Average30(obs, d0+2*day+5)
	if err != nil || n != 3 || avg != (31_000+32_000+33_000)/3 {
		t.Fatalf("avg %d over %d days, %v", avg, n, err)
	}
	// 31 days later only the last day is still in the window... plus none: day 2 leaves after day 31.
	avg, n, err = Average30(obs, d0+31*day)
	if err != nil || n != 1 || avg != 33_000 {
		t.Fatalf("window: avg %d over %d days, %v", avg, n, err)
	}
	if _, _, err := Average30(obs, d0-1); err == nil {
		t.Fatal("no data accepted")
	}
	// Floor division: (1+2)/2 = 1.
	avg, _, _ = Average30([]Observation{{d0, 1}, {d0 + day, 2}}, d0+day)
	if avg != 1 {
		t.Fatalf("floor: got %d", avg)
	}
	if NNSRate(5_000, 100) != 10_000 || NNSRate(35_000, 100) != 35_000 {
		t.Fatal("minimum rate floor")
	}
}
