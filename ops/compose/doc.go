// Package compose holds no code: its test keeps docker-compose.yml and the
// ops/stack defaults in agreement (service names, ports, NODESHARE_*
// variables), since no Docker engine runs where the tests run.
package compose
