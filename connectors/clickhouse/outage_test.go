package clickhouse

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// A server away or stopping is transient for the sink (it waits and
// carries on); a query the server refuses is not.
func TestOutageClasses(t *testing.T) {
	live := context.Background()
	cases := []struct {
		name string
		err  error
		want retry.Class
	}{
		{"connection refused", fmt.Errorf("clickhouse: prepare insert into events_raw: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), retry.Transient},
		{"connection cut mid-insert", fmt.Errorf("clickhouse: insert into events_raw: %w", io.EOF), retry.Transient},
		{"reset, as text only", fmt.Errorf("clickhouse: read: connection reset by peer"), retry.Transient},
		{"server shutting down", &ch.Exception{Code: 236, Message: "The server is shutting down"}, retry.Transient},
		{"own insert timeout, caller alive", fmt.Errorf("clickhouse: insert: %w", context.DeadlineExceeded), retry.Transient},
		{"unknown table", &ch.Exception{Code: 60, Message: "Table nodeshare.nope does not exist"}, retry.Fatal},
		{"type mismatch", &ch.Exception{Code: 53, Message: "Type mismatch"}, retry.Fatal},
		{"certificate of an unknown CA", fmt.Errorf("clickhouse: dial: %w", &net.OpError{Op: "remote error", Err: x509.UnknownAuthorityError{}}), retry.Fatal},
	}
	for _, c := range cases {
		if got := retry.Classify(markOutage(live, c.err)); got != c.want {
			t.Errorf("%s: %v is %s, want %s", c.name, c.err, got, c.want)
		}
	}
}
