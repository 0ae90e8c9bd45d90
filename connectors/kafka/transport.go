package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	kgo "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// Brokers is a Kafka cluster as every client of this package reaches it:
// the bootstrap addresses and the connection's security. A zero TLS and
// SASL is a plaintext connection; with TLS set the connection is
// encrypted and the brokers' certificates verified; with SASL set the
// client logs in (SCRAM-SHA-512 or PLAIN, see SASL). Every reader,
// writer and admin request of the package is built from it.
type Brokers struct {
	Addrs []string
	TLS   *tls.Config    // nil: plaintext
	SASL  sasl.Mechanism // nil: no login
}

// PlainBrokers is a plaintext cluster at addrs.
func PlainBrokers(addrs []string) Brokers { return Brokers{Addrs: addrs} }

// String names the addresses and the security, never the password.
func (b Brokers) String() string {
	s := strings.Join(b.Addrs, ",")
	if b.TLS != nil {
		s += " tls"
	}
	if b.SASL != nil {
		s += " sasl " + b.SASL.Name()
		if u := saslUser(b.SASL); u != "" {
			s += " user " + u
		}
	}
	return s
}

// GoString keeps %#v from printing the mechanism's password.
func (b Brokers) GoString() string { return "kafka.Brokers(" + b.String() + ")" }

// The SASL mechanisms the flags name (none is no login).
const (
	SASLNone        = "none"
	SASLPlain       = "plain"
	SASLScramSHA512 = "scram-sha-512"
)

// SASL is the login mechanism for name (SASLPlain or SASLScramSHA512;
// SASLNone or "" is no login). The user and password must not be empty.
func SASL(name, user, password string) (sasl.Mechanism, error) {
	switch name {
	case "", SASLNone:
		return nil, nil
	case SASLPlain, SASLScramSHA512:
	default:
		return nil, fmt.Errorf("kafka: sasl mechanism must be %s, %s or %s, got %q", SASLNone, SASLPlain, SASLScramSHA512, name)
	}
	if user == "" {
		return nil, fmt.Errorf("kafka: sasl %s needs a user name", name)
	}
	if password == "" {
		return nil, fmt.Errorf("kafka: sasl %s needs a password", name)
	}
	if name == SASLPlain {
		return withUser(plain.Mechanism{Username: user, Password: password}, user), nil
	}
	m, err := scram.Mechanism(scram.SHA512, user, password)
	if err != nil {
		return nil, fmt.Errorf("kafka: sasl %s: %w", name, err)
	}
	return withUser(m, user), nil
}

// named is a mechanism that remembers its user for String (kafka-go's
// SCRAM mechanism does not expose it) and hides the password from %v.
type named struct {
	sasl.Mechanism
	user string
}

func withUser(m sasl.Mechanism, user string) sasl.Mechanism { return named{m, user} }

func (n named) String() string   { return n.Name() + " user " + n.user }
func (n named) GoString() string { return n.String() }

func saslUser(m sasl.Mechanism) string {
	if n, ok := m.(named); ok {
		return n.user
	}
	return ""
}

// transports are shared by every client of one security setting. kafka-go
// routes requests with cached metadata; a short TTL means a topic created
// by another process (a replay, a test) is seen quickly.
var transports sync.Map // security -> *kgo.Transport

type security struct {
	tls  *tls.Config
	sasl sasl.Mechanism
}

func (b Brokers) transport() *kgo.Transport {
	key := security{b.TLS, b.SASL}
	if t, ok := transports.Load(key); ok {
		return t.(*kgo.Transport)
	}
	t, _ := transports.LoadOrStore(key, &kgo.Transport{MetadataTTL: 500 * time.Millisecond, TLS: b.TLS, SASL: b.SASL})
	return t.(*kgo.Transport)
}

// dialer is the consumer groups' dialer (kafka-go's Reader dials itself).
func (b Brokers) dialer() *kgo.Dialer {
	return &kgo.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: b.TLS, SASLMechanism: b.SASL}
}

func (b Brokers) newClient() *kgo.Client {
	return &kgo.Client{Addr: kgo.TCP(b.Addrs...), Timeout: 30 * time.Second, Transport: b.transport()}
}

// explain gives the cause of a failure to reach the cluster, and what to
// check. kafka-go's Transport reports a refused login or a failed TLS
// handshake as "Broker Not Available" (the cluster's metadata could not be
// read); a direct dial (kafka-go's Dialer) then says why.
func (b Brokers) explain(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kgo.BrokerNotAvailable) && (b.TLS != nil || b.SASL != nil) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, a := range b.Addrs {
			c, derr := b.dialer().DialContext(dctx, "tcp", a)
			if derr != nil {
				err = fmt.Errorf("%w: %s: %w", err, a, derr)
				break
			}
			_ = c.Close()
		}
	}
	var unknownCA x509.UnknownAuthorityError
	switch {
	case errors.Is(err, kgo.SASLAuthenticationFailed):
		return fmt.Errorf("%w (the brokers refused the login: check the SASL user, mechanism and password)", err)
	case errors.As(err, &unknownCA) || strings.Contains(err.Error(), "certificate signed by unknown authority"):
		return fmt.Errorf("%w (the brokers' certificate is not signed by a trusted CA: check the CA file)", err)
	case strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		return fmt.Errorf("%w (TLS is on but the listener is plaintext: check the broker port)", err)
	}
	return err
}

// notReadyPolicy waits for a topic that is not ready yet, for about 5
// seconds (waits of 250 ms growing to 1 s, 8 tries): the broker (or the
// cached metadata) does not know it, or its partitions have no leader yet
// (just after creation or a broker start). Any other error returns at once.
var notReadyPolicy = retry.Policy{Tries: 8, Initial: 250 * time.Millisecond, Max: time.Second, Classify: classifyNotReady}

// classifyNotReady is transient for kafka-go's not-ready errors and fatal
// for anything else. (retry.Classify is not used here: kafka-go's Error
// type is a net.Error, so it would call every broker error transient.)
func classifyNotReady(err error) retry.Class {
	if errors.Is(err, kgo.UnknownTopicOrPartition) || errors.Is(err, kgo.NotLeaderForPartition) || errors.Is(err, kgo.LeaderNotAvailable) {
		return retry.Transient
	}
	return retry.Fatal
}
