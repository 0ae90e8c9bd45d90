package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secure connections (docs/operations.md "Secure connections"): the TLS
// settings of Kafka, ClickHouse and Vault come from PEM files the flags
// name, and the passwords from the environment or a file, never from a
// flag. Errors name the flag, its variable and the file; never a secret.

// tlsFiles are the PEM files of one TLS client: the CA certificates the
// server's certificate is checked against (empty: the system's roots) and
// an optional client certificate and key (mutual TLS).
type tlsFiles struct{ ca, cert, key string }

// clientTLS builds the TLS config of a client; flag is the flags' infix
// (kafka: --kafka-ca-file) and env the variables' (KAFKA:
// NODESHARE_KAFKA_CA_FILE). The server name is taken from the address
// dialled.
func clientTLS(f tlsFiles, flag, env string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--%s-ca-file %s: %w (NODESHARE_%s_CA_FILE)", flag, f.ca, pathErr(err), env)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%s-ca-file %s holds no PEM certificate (NODESHARE_%s_CA_FILE)", flag, f.ca, env)
		}
		cfg.RootCAs = pool
	}
	if (f.cert == "") != (f.key == "") {
		return nil, fmt.Errorf("--%s-cert-file and --%s-key-file go together, got %q and %q (NODESHARE_%s_CERT_FILE, NODESHARE_%s_KEY_FILE)", flag, flag, f.cert, f.key, env, env)
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--%s-cert-file %s with --%s-key-file %s: %w (NODESHARE_%s_CERT_FILE, NODESHARE_%s_KEY_FILE)", flag, f.cert, flag, f.key, pathErr(err), env, env)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// secret is the password in the variable name, or in the file fileFlag
// names (its trailing newline dropped); empty when neither is set. Both
// set is an error: which one counts would be a guess.
func secret(name, fileFlag, fileEnv, file string) (string, error) {
	v, inEnv := os.LookupEnv(name)
	if file == "" {
		return v, nil
	}
	if inEnv && v != "" {
		return "", fmt.Errorf("both %s and %s %s are set: keep one (%s)", name, fileFlag, file, fileEnv)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w (%s)", fileFlag, file, pathErr(err), fileEnv)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s %s is empty (%s)", fileFlag, file, fileEnv)
	}
	return s, nil
}

// pathErr drops the path an *os.PathError repeats (the message names it).
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
