package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Command     any               `yaml:"command"`
	} `yaml:"services"`
}

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stackEnv runs `ops/stack env` with no port overrides and returns what it prints.
func stackEnv(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root(t), "ops", "stack"), "env", "--plain")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NODESHARE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ops/stack env: %v", err)
	}
	env := map[string]string{}
	re := regexp.MustCompile(`^export (NODESHARE_[A-Z0-9_]+)=(.*)$`)
	for _, line := range strings.Split(string(out), "\n") {
		// The optional local Prometheus (NODESHARE_STACK_PROMETHEUS=1) is
		// for tests and operators, not the daemons: compose runs none.
		if m := re.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "NODESHARE_PROMETHEUS_") {
			env[m[1]] = strings.Trim(m[2], `'"`)
		}
	}
	if len(env) < 5 {
		t.Fatalf("ops/stack env printed too little:\n%s", out)
	}
	return env
}

func TestComposeAgreesWithStack(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	env := stackEnv(t)

	// Every ops/stack service is in the compose file, plus the binary.
	var names []string
	for n := range cf.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, want := range []string{"kafka", "clickhouse", "vault", "icsim", "nodeshare"} {
		if _, ok := cf.Services[want]; !ok {
			t.Errorf("service %q missing from docker-compose.yml (has %v)", want, names)
		}
	}

	// Host ports published by compose equal the ops/stack defaults, read
	// from the addresses `ops/stack env` prints.
	port := func(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }
	wantPorts := map[string][]string{
		"kafka":      {port(env["NODESHARE_KAFKA_BROKERS"])},
		"clickhouse": {port(env["NODESHARE_CLICKHOUSE_ADDR"]), port(env["NODESHARE_CLICKHOUSE_HTTP_ADDR"])},
		"vault":      {port(env["NODESHARE_VAULT_ADDR"])},
		"icsim":      {port(env["NODESHARE_IC_URL"])},
	}
	for svc, ports := range wantPorts {
		published := map[string]bool{}
		for _, p := range cf.Services[svc].Ports {
			published[strings.SplitN(p, ":", 2)[0]] = true
		}
		for _, p := range ports {
			if p == "" || !published[p] {
				t.Errorf("service %s: ops/stack uses host port %q, compose publishes %v", svc, p, cf.Services[svc].Ports)
			}
		}
	}

	// The binary's environment in compose names exactly the variables
	// ops/stack env prints, with the same non-address values.
	// NODESHARE_STACK_* describe the local stack's users, files and secure
	// listeners (for tests and operators); no command reads them.
	ns := cf.Services["nodeshare"].Environment
	for k, v := range env {
		if strings.HasPrefix(k, "NODESHARE_STACK_") {
			continue
		}
		cv, ok := ns[k]
		if !ok {
			t.Errorf("nodeshare service: %s is printed by ops/stack env but missing from compose", k)
			continue
		}
		switch k {
		case "NODESHARE_CLICKHOUSE_DATABASE", "NODESHARE_VAULT_TRANSIT_MOUNT", "NODESHARE_VAULT_TRANSIT_KEY", "NODESHARE_VAULT_KV_MOUNT":
			if cv != v {
				t.Errorf("nodeshare service: %s=%q in compose, %q in ops/stack", k, cv, v)
			}
		}
	}
	for k := range ns {
		if _, ok := env[k]; !ok {
			t.Errorf("nodeshare service: %s is set in compose but ops/stack env does not print it", k)
		}
	}
	// The transit key that compose creates is the one the binary uses.
	init := cf.Services["vault-init"].Command
	if !strings.Contains(strings.TrimSpace(toString(init)), "transit/keys/"+env["NODESHARE_VAULT_TRANSIT_KEY"]+" type=ed25519") {
		t.Errorf("vault-init does not create the ed25519 transit key %s", env["NODESHARE_VAULT_TRANSIT_KEY"])
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, p := range x {
			parts = append(parts, toString(p))
		}
		return strings.Join(parts, " ")
	}
	return ""
}
