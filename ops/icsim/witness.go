package icsim

import (
	"bytes"

	"github.com/aviate-labs/agent-go/certification/hashtree"
)

// digestTree is a hash tree with the digest of every node computed once, so
// that cutting a witness for each member of a certification round walks
// the tree without hashing it again.
type digestTree struct {
	node   hashtree.Node // the whole subtree, revealed when a path ends here
	digest [32]byte
	label  []byte      // Labeled
	sub    *digestTree // Labeled
	left   *digestTree // Fork
	right  *digestTree // Fork
}

func newDigestTree(n hashtree.Node) *digestTree {
	d := &digestTree{node: n}
	// Each digest is agent-go's own Reconstruct over children already
	// reduced to Pruned(digest), so the formulas cannot drift from the
	// verifier's.
	switch n := n.(type) {
	case hashtree.Fork:
		d.left, d.right = newDigestTree(n.LeftTree), newDigestTree(n.RightTree)
		d.digest = hashtree.Fork{LeftTree: hashtree.Pruned(d.left.digest), RightTree: hashtree.Pruned(d.right.digest)}.Reconstruct()
	case hashtree.Labeled:
		// Cap == len: Labeled.Reconstruct appends to the label.
		d.label, d.sub = bytes.Clone(n.Label)[:len(n.Label):len(n.Label)], newDigestTree(n.Tree)
		d.digest = hashtree.Labeled{Label: d.label, Tree: hashtree.Pruned(d.sub.digest)}.Reconstruct()
	default: // Leaf, Empty, Pruned
		d.digest = n.Reconstruct()
	}
	return d
}

// witness is the tree with the subtrees at paths revealed and everything
// else replaced by Pruned(its digest). Its root digest equals d.digest, so
// a signature over d verifies the witness. A lookup of a pruned path comes
// back "unknown" in agent-go, never a value.
func (d *digestTree) witness(paths [][][]byte) hashtree.Node {
	for _, p := range paths {
		if len(p) == 0 {
			return d.node
		}
	}
	switch {
	case d.left != nil:
		l, r := d.left.witness(paths), d.right.witness(paths)
		_, lp := l.(hashtree.Pruned)
		_, rp := r.(hashtree.Pruned)
		if lp && rp {
			return hashtree.Pruned(d.digest)
		}
		return hashtree.Fork{LeftTree: l, RightTree: r}
	case d.sub != nil:
		var rest [][][]byte
		for _, p := range paths {
			if bytes.Equal(p[0], d.label) {
				rest = append(rest, p[1:])
			}
		}
		if len(rest) == 0 {
			return hashtree.Pruned(d.digest)
		}
		return hashtree.Labeled{Label: d.label, Tree: d.sub.witness(rest)}
	}
	// A leaf or an empty node that no path ends at.
	return hashtree.Pruned(d.digest)
}
