// Command tlsproxy is the TLS port of the local stack's ClickHouse: it
// accepts TLS connections and forwards their bytes to a plaintext TCP
// port. ops/stack runs it under `ops/stack up --secure` in front of
// ClickHouse's native port, because the ClickHouse server inside chDB
// (ops/clickhouse/chlaunch.c) opens plaintext listeners only
// (clickhouse-local's SYSTEM START LISTEN knows TCP and HTTP, not TCP
// SECURE). A client sees a real TLS server with the stack's certificate;
// a production ClickHouse terminates TLS itself (tcp_port_secure).
//
//	tlsproxy --listen 127.0.0.1:19440 --to 127.0.0.1:19000 --cert server.pem --key server.key
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "host:port of the TLS listener")
	to := flag.String("to", "", "host:port of the plaintext server")
	cert := flag.String("cert", "", "PEM server certificate (chain)")
	key := flag.String("key", "", "PEM private key of --cert")
	flag.Parse()
	if *listen == "" || *to == "" || *cert == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "usage: tlsproxy --listen HOST:PORT --to HOST:PORT --cert FILE --key FILE")
		os.Exit(2)
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatalf("tlsproxy: --cert %s --key %s: %v", *cert, *key, err)
	}
	ln, err := tls.Listen("tcp", *listen, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		log.Fatalf("tlsproxy: listen %s: %v", *listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); ln.Close() }()
	log.Printf("tlsproxy: TLS on %s, forwarding to %s", *listen, *to)
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Printf("tlsproxy: accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); forward(c, *to) }()
	}
	wg.Wait()
}

// forward completes the handshake, then copies both ways until both
// sides are done.
func forward(c net.Conn, to string) {
	defer c.Close()
	tc := c.(*tls.Conn)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		log.Printf("tlsproxy: handshake from %s: %v", c.RemoteAddr(), err)
		return
	}
	_ = tc.SetDeadline(time.Time{})
	up, err := net.DialTimeout("tcp", to, 10*time.Second)
	if err != nil {
		log.Printf("tlsproxy: dial %s: %v", to, err)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { copyHalf(up, tc); done <- struct{}{} }()
	go func() { copyHalf(tc, up); done <- struct{}{} }()
	<-done
	<-done
}

// copyHalf copies src to dst, then closes dst's writing side so the peer
// sees the end of the stream.
func copyHalf(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
		_ = dst.Close()
		_ = src.Close()
		return
	}
	switch d := dst.(type) {
	case *net.TCPConn:
		_ = d.CloseWrite()
	case *tls.Conn:
		_ = d.CloseWrite()
	}
}
