package arch

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nodeshare/nodeshare"

// drivers are the outside systems' client libraries: only connectors (and
// cmd, which wires them) may link them.
var drivers = []string{
	"github.com/segmentio/kafka-go",
	"github.com/ClickHouse/clickhouse-go",
	"github.com/ClickHouse/ch-go",
	"github.com/hashicorp/vault/api",
	"github.com/aviate-labs/agent-go/agent",
	"net/http",
}

// exactDrivers match only themselves: database/sql/driver is only the
// Scanner/Valuer interfaces shopspring/decimal implements.
var exactDrivers = []string{"database/sql"}

type pkg struct {
	path    string
	imports []string // direct
	deps    []string // transitive
}

// load lists every package of the module with its direct imports and its
// transitive dependencies (tests excluded: a test may drive a stage
// through real connectors).
func load(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		pkgs[f[0]] = pkg{path: f[0], imports: strings.Fields(f[1]), deps: strings.Fields(f[2])}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func under(p, dir string) bool { r := rel(p); return r == dir || strings.HasPrefix(r, dir+"/") }

func isDriver(imp string) bool {
	for _, d := range exactDrivers {
		if imp == d {
			return true
		}
	}
	for _, d := range drivers {
		if imp == d || strings.HasPrefix(imp, d+"/") {
			return true
		}
	}
	return false
}

// icLibrary is the IC client library: the ic connector's driver. Only
// connectors, cmd and schemas (its codecs: Candid, principals, account
// text, the wire forms) may import it.
const icLibrary = "github.com/aviate-labs/agent-go"

func isICLibrary(imp string) bool { return imp == icLibrary || strings.HasPrefix(imp, icLibrary+"/") }

// isStage: orchestration packages (pipeline/stage and below), the helpers
// their tests share (payouttest) included.
func isStage(p string) bool { return under(p, "pipeline/stage") }

// isRule: the pure rule packages (pipeline, outside pipeline/stage).
func isRule(p string) bool { return under(p, "pipeline") && !under(p, "pipeline/stage") }

// violations returns every wrong arrow in pkgs.
func violations(pkgs map[string]pkg) []string {
	var bad []string
	add := func(p, imp, why string) { bad = append(bad, fmt.Sprintf("%s imports %s: %s", rel(p), imp, why)) }
	for _, p := range pkgs {
		for _, imp := range p.imports {
			switch {
			case under(imp, "cmd"):
				add(p.path, imp, "nothing imports cmd")
			case isStage(p.path) && (under(imp, "connectors") || isDriver(imp) || isICLibrary(imp) || imp == "os"):
				add(p.path, imp, "a stage reaches outside systems only through its ports")
			case isRule(p.path) && (under(imp, "connectors") || under(imp, "pipeline/stage") || isDriver(imp) || isICLibrary(imp) ||
				imp == "os" || imp == "log" || imp == "log/slog" || strings.HasPrefix(imp, "net")):
				add(p.path, imp, "rule packages are pure: no I/O, no logging, no stages")
			case under(p.path, "connectors") && (under(imp, "pipeline/stage") && !under(imp, "pipeline/stage/retry")):
				add(p.path, imp, "connectors implement ports in the rules' words, they do not import stages")
			case under(p.path, "connectors") && under(imp, "connectors") && !under(imp, firstTwo(p.path)):
				add(p.path, imp, "one package per outside system: connectors do not import each other")
			case under(p.path, "schemas") && (under(imp, "pipeline") || under(imp, "connectors") || isDriver(imp)):
				add(p.path, imp, "schemas are wire contracts: they depend on nothing of the project")
			}
		}
		// Transitively, too: a stage or a rule package must not reach a
		// driver or a connector through another package.
		if isStage(p.path) || isRule(p.path) || under(p.path, "schemas") {
			for _, d := range p.deps {
				if under(d, "connectors") || isDriver(d) {
					add(p.path, d, "reached through its dependencies")
				}
			}
		}
		// The product binary does not link the simulator (nor its BLS
		// signing) or any other ops code.
		if under(p.path, "cmd/nodeshare") {
			for _, d := range p.deps {
				if under(d, "ops") {
					add(p.path, d, "the product binary does not link ops code (the simulator has its own binary)")
				}
			}
		}
	}
	return bad
}

// firstTwo is "connectors/<system>" of a connectors package path.
func firstTwo(p string) string {
	parts := strings.SplitN(rel(p), "/", 3)
	if len(parts) < 2 {
		return rel(p)
	}
	return parts[0] + "/" + parts[1]
}

func TestArrows(t *testing.T) {
	pkgs := load(t)
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// The check itself must fail on a wrong import: each arrow broken once.
func TestArrowsCatchWrongImports(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
	}{
		{module + "/pipeline/stage/payout", module + "/connectors/ic"},
		{module + "/pipeline/stage/sink", "github.com/ClickHouse/clickhouse-go/v2"},
		{module + "/pipeline/stage/connect", "os"},
		{module + "/pipeline/stage/demo", "github.com/aviate-labs/agent-go/principal/icrc"},
		{module + "/pipeline/stage/payout/payouttest", "github.com/aviate-labs/agent-go/principal"},
		{module + "/pipeline/lifecycle", "github.com/aviate-labs/agent-go/principal"},
		{module + "/pipeline/allocation", "log/slog"},
		{module + "/pipeline/payout", module + "/pipeline/stage"},
		{module + "/connectors/ic", module + "/connectors/vault"},
		{module + "/connectors/kafka", module + "/pipeline/stage/process"},
		{module + "/schemas", module + "/pipeline/money"},
		{module + "/connectors/kafka", module + "/cmd/nodeshare"},
	} {
		pkgs := map[string]pkg{c.pkg: {path: c.pkg, imports: []string{c.imp}}}
		if v := violations(pkgs); len(v) != 1 {
			t.Errorf("%s importing %s: want one violation, got %v", c.pkg, c.imp, v)
		}
	}
	ok := map[string]pkg{
		module + "/pipeline/stage/payout": {path: module + "/pipeline/stage/payout", imports: []string{module + "/pipeline/payout", module + "/pipeline/stage/retry", "log/slog", "context"}},
		module + "/connectors/ic":         {path: module + "/connectors/ic", imports: []string{module + "/pipeline/payout", module + "/schemas", "net/http"}},
	}
	if v := violations(ok); len(v) != 0 {
		t.Errorf("allowed imports reported: %v", v)
	}
}
