package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONErrorAtNamesLineAndColumn(t *testing.T) {
	data := []byte("{\n  \"a\": 1,\n  \"b\": tru\n}")
	var v map[string]any
	err := JSONErrorAt(data, json.Unmarshal(data, &v))
	if err == nil || !strings.Contains(err.Error(), "line 3, column") {
		t.Fatalf("%v", err)
	}
	var n struct{ A int }
	data = []byte("{\n\"A\": \"x\"}")
	if err := JSONErrorAt(data, json.Unmarshal(data, &n)); err == nil || !strings.Contains(err.Error(), "line 2, column") {
		t.Fatalf("type error: %v", err)
	}
	if l, c := JSONPosition([]byte("ab\ncd"), 4); l != 2 || c != 2 {
		t.Fatalf("%d:%d", l, c)
	}
}

func TestValidateID(t *testing.T) {
	if err := ValidateID("pool_id", "pool-a"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateID("pool_id", "a/b"); err == nil || !strings.Contains(err.Error(), `pool_id must not contain '/'`) {
		t.Fatalf("%v", err)
	}
	if err := ValidateID("dao", ""); err == nil {
		t.Fatal("an empty id passed")
	}
}
