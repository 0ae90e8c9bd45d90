package icsim

import (
	"bytes"
	"sort"

	"github.com/aviate-labs/agent-go/certification/hashtree"
)

// stateTree is a mutable labelled tree that is turned into a hash tree for
// one certificate. Children are sorted by label bytes when built, because
// agent-go's lookup relies on strictly ascending labels.
type stateTree struct {
	leaf     []byte
	isLeaf   bool
	children map[string]*stateTree
}

func newStateTree() *stateTree { return &stateTree{children: map[string]*stateTree{}} }

// set stores value at path, creating inner nodes.
func (t *stateTree) set(value []byte, path ...[]byte) {
	n := t
	for _, l := range path {
		c, ok := n.children[string(l)]
		if !ok {
			c = newStateTree()
			n.children[string(l)] = c
		}
		n = c
	}
	n.isLeaf = true
	n.children = nil
	// A nil leaf would marshal as CBOR null; store an empty byte string.
	n.leaf = append([]byte{}, value...)
}

// sub returns the node at path, or nil.
func (t *stateTree) sub(path ...[]byte) *stateTree {
	n := t
	for _, l := range path {
		if n == nil || n.isLeaf {
			return nil
		}
		n = n.children[string(l)]
	}
	return n
}

// graft puts src at path in t (sharing src).
func (t *stateTree) graft(src *stateTree, path ...[]byte) {
	if len(path) == 0 {
		*t = *src
		return
	}
	n := t
	for _, l := range path[:len(path)-1] {
		c, ok := n.children[string(l)]
		if !ok || c.isLeaf {
			c = newStateTree()
			n.children[string(l)] = c
		}
		n = c
	}
	n.children[string(path[len(path)-1])] = src
}

// node builds the hash tree node.
func (t *stateTree) node() hashtree.Node {
	if t.isLeaf {
		return hashtree.Leaf(append([]byte{}, t.leaf...))
	}
	labels := make([][]byte, 0, len(t.children))
	for l := range t.children {
		labels = append(labels, []byte(l))
	}
	sort.Slice(labels, func(i, j int) bool { return bytes.Compare(labels[i], labels[j]) < 0 })
	nodes := make([]hashtree.Node, len(labels))
	for i, l := range labels {
		// Copy with cap == len: Labeled.Reconstruct appends to the label.
		lab := make([]byte, len(l))
		copy(lab, l)
		nodes[i] = hashtree.Labeled{Label: lab, Tree: t.children[string(l)].node()}
	}
	return forks(nodes)
}

func forks(nodes []hashtree.Node) hashtree.Node {
	switch len(nodes) {
	case 0:
		return hashtree.Empty{}
	case 1:
		return nodes[0]
	}
	mid := len(nodes) / 2
	return hashtree.Fork{LeftTree: forks(nodes[:mid]), RightTree: forks(nodes[mid:])}
}
