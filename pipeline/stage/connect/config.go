package connect

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// Topics are the topics the stage writes, and dao.pools.v1, which it
// reads, without Config.TopicPrefix (cmd/nodeshare creates them before
// the first poll).
func Topics() []string {
	return []string{schemas.TopicNodeRewards, schemas.TopicRates, schemas.TopicNodeDailyRewards, schemas.TopicNodePeriodWeights, schemas.TopicSourceAlarms,
		schemas.TopicLedgerBlocks, schemas.TopicPoolFacts, schemas.TopicPools, schemas.TopicFiatPrices}
}

// DefaultLedgerWindow is Config.LedgerWindow's default: the ledger's own
// page size.
const DefaultLedgerWindow = 2000

// DefaultPriceDays is Config.PriceDays's default: the fiat prices of the
// last 30 days are read when the topic holds none yet.
const DefaultPriceDays = 30

// Config is the stage's configuration; cmd/nodeshare fills it from flags
// and calls Validate before anything starts (docs/connectors.md).
type Config struct {
	// Interval is the time between polls (>= 1 s) unless Once.
	Interval time.Duration
	// Once polls a single time; Run returns the poll's error.
	Once bool
	// SinceSeconds is where the reward history starts on the first poll
	// when the topic holds nothing newer.
	SinceSeconds uint64
	// Tolerance bounds the dashboard's distance from the CMC's rate.
	Tolerance rates.Tolerance
	// NRCProviders are the node providers whose NRC data is published
	// (principal text); empty: every provider.
	NRCProviders []string
	// NRCRecentDays also polls the NRC for the last N complete UTC days.
	NRCRecentDays int
	// LedgerSinceBlock is the first block read when ic.ledger-blocks.v1
	// holds no cursor of the ledger yet; nil starts at the chain's length
	// at that first poll (nothing older is read). Once a cursor is there it
	// wins (ledger.go).
	LedgerSinceBlock *uint64
	// LedgerWindow is the most blocks published under one cursor record
	// (0: DefaultLedgerWindow).
	LedgerWindow int
	// PriceDays is how far back the first poll reads fiat prices when
	// ext.icp-fiat-prices.v1 holds none of the Prices port's series yet
	// (0: DefaultPriceDays). Once a price is there, polls read from the
	// newest one on (prices.go).
	PriceDays int
	// CallTimeout bounds one call of a source.
	CallTimeout time.Duration
	// Attempts is the most tries of one call whose failures are transient.
	Attempts int
	// RetryBackoff is the first wait between tries; it doubles (with
	// jitter) up to 30 s (default 500 ms).
	RetryBackoff time.Duration
	// TopicPrefix isolates a run's topics (tests); empty in production.
	TopicPrefix string
	// Logger receives the stage's JSON log lines (nil: none).
	Logger *slog.Logger
	// Observer is told of every source alarm found (nil: nobody;
	// cmd/nodeshare passes the metrics connector).
	Observer Observer
}

// AlarmKinds are the kinds of source alarm the stage raises: the rate
// kinds the dashboard is cross-checked on (rates.go).
func AlarmKinds() []string { return []string{"spot", "avg30"} }

// Observer is the port the connector reports its alarms through.
type Observer interface {
	// SourceAlarm counts one source mismatch of kind (one of
	// AlarmKinds()) found by a poll. The same mismatch found again by a
	// later poll counts again (it is published once).
	SourceAlarm(kind string)
}

// Validate reports every setting that is wrong, naming it.
func (c Config) Validate() error {
	var errs []error
	if !c.Once && c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("interval must be >= 1s, got %s", c.Interval))
	}
	if c.Tolerance.MaxDiffBps < 0 || c.Tolerance.MaxSkew < 0 {
		errs = append(errs, fmt.Errorf("rate tolerance must be >= 0, got %d bps and skew %s", c.Tolerance.MaxDiffBps, c.Tolerance.MaxSkew))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("call timeout must be > 0, got %s", c.CallTimeout))
	}
	if c.Attempts < 1 {
		errs = append(errs, fmt.Errorf("attempts must be >= 1, got %d", c.Attempts))
	}
	if c.NRCRecentDays < 0 {
		errs = append(errs, fmt.Errorf("nrc recent days must be >= 0, got %d", c.NRCRecentDays))
	}
	if c.LedgerWindow < 0 {
		errs = append(errs, fmt.Errorf("ledger window must be >= 0, got %d", c.LedgerWindow))
	}
	if c.PriceDays < 0 {
		errs = append(errs, fmt.Errorf("price days must be >= 0, got %d", c.PriceDays))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retry backoff must be >= 0, got %s", c.RetryBackoff))
	}
	for _, p := range c.NRCProviders {
		if p == "" {
			errs = append(errs, errors.New("nrc providers: an empty principal"))
		}
	}
	return errors.Join(errs...)
}

func (c Config) topic(name string) string { return c.TopicPrefix + name }

func (c Config) ledgerWindow() int {
	if c.LedgerWindow > 0 {
		return c.LedgerWindow
	}
	return DefaultLedgerWindow
}

func (c Config) priceDays() int {
	if c.PriceDays > 0 {
		return c.PriceDays
	}
	return DefaultPriceDays
}

func (c Config) retryBackoff() time.Duration {
	if c.RetryBackoff > 0 {
		return c.RetryBackoff
	}
	return 500 * time.Millisecond
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
