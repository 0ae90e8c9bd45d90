package arch

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoPath matches what a document cites as a file or folder of the
// repository: a path under one of the top-level folders, in backticks or
// a markdown link.
var repoPath = regexp.MustCompile("(?:`|\\]\\()((?:cmd|pipeline|connectors|schemas|ops|docs)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])")

// goSymbol is a Go identifier named through its package's path
// (connectors/vault.TransitIdentity).
var goSymbol = regexp.MustCompile(`/[a-z0-9_]+\.[A-Z][A-Za-z0-9_]*$`)

// Every path the README and docs/ cite exists: the docs stand on their own.
func TestDocsCiteFilesThatExist(t *testing.T) {
	root := "../.."
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "ops", "icsim", "README.md"), filepath.Join(root, "ops", "vault", "README.md"))
	checked := 0
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repoPath.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimSuffix(m[1], "/")
			if strings.ContainsAny(p, "*<>") {
				continue // a pattern, not a path
			}
			if goSymbol.MatchString(p) {
				p = p[:strings.LastIndex(p, ".")] // pkg.Symbol: the package's folder
			}
			checked++
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s cites %s, which is not in the repository", strings.TrimPrefix(d, root+"/"), p)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d citations found: the pattern is broken", checked)
	}
}
