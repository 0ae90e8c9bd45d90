package icsim

import (
	"encoding/binary"
	"fmt"

	"github.com/aviate-labs/agent-go/principal"
)

// Archiving, as the ICP ledger does it (ArchiveOptions in ledger.did;
// rs/ledger_suite/common/ledger_canister_core/src/blockchain.rs
// get_blocks_for_archiving, ledger.rs archive_blocks and block_locations):
// once the ledger holds TriggerThreshold blocks, its NumBlocksToArchive
// oldest blocks move to archive canisters, which serve them through
// get_blocks. query_blocks then answers older ranges with archived_blocks
// entries whose callback names the archive and its get_blocks method. The
// real ledger sends the blocks with inter-canister calls after the reply;
// the simulator moves them when the block is committed.
//
// An archive canister holds NodeMaxBlocks blocks (the real one holds
// node_max_memory_size_bytes of them); when it is full the ledger creates
// the next one. The simulator keeps every block in its own store (the state
// file is unchanged); a block is served by whichever canister owns its
// index.

// ArchiveOptions configure archiving; the zero value never archives.
type ArchiveOptions struct {
	// TriggerThreshold: archive when the ledger holds this many blocks.
	TriggerThreshold uint64 `json:"trigger_threshold"`
	// NumBlocksToArchive oldest blocks move at each trigger (>= 1 when
	// TriggerThreshold is set).
	NumBlocksToArchive uint64 `json:"num_blocks_to_archive"`
	// NodeMaxBlocks is an archive canister's capacity in blocks; 0 is
	// unlimited (one archive canister).
	NodeMaxBlocks uint64 `json:"node_max_blocks"`
}

// Validate rejects options that would never archive or never stop.
func (o ArchiveOptions) Validate() error {
	if o.TriggerThreshold == 0 {
		if o.NumBlocksToArchive != 0 || o.NodeMaxBlocks != 0 {
			return fmt.Errorf("archive options need a trigger threshold when num_blocks_to_archive or node_max_blocks is set")
		}
		return nil
	}
	if o.NumBlocksToArchive == 0 {
		return fmt.Errorf("archive num_blocks_to_archive must be >= 1 with trigger threshold %d", o.TriggerThreshold)
	}
	return nil
}

// ArchiveNode is one archive canister and the block range [From, To) it
// holds.
type ArchiveNode struct {
	CanisterID string `json:"canister_id"`
	From       uint64 `json:"from"`
	To         uint64 `json:"to"`
}

// archiveState is the ledger's archive index. Archived is
// num_archived_blocks: blocks [0, Archived) live in the archive nodes, in
// order and without gaps.
type archiveState struct {
	Archived uint64        `json:"archived"`
	Nodes    []ArchiveNode `json:"nodes"`
}

// validate checks that the nodes cover [0, Archived) of a chain of n blocks.
func (a archiveState) validate(n uint64) error {
	next := uint64(0)
	for i, node := range a.Nodes {
		if node.From != next || node.To <= node.From {
			return fmt.Errorf("archive node %d covers [%d, %d), want a non-empty range from %d", i, node.From, node.To, next)
		}
		if _, err := principal.Decode(node.CanisterID); err != nil {
			return fmt.Errorf("archive node %d: canister id %q: %w", i, node.CanisterID, err)
		}
		next = node.To
	}
	if next != a.Archived || a.Archived > n {
		return fmt.Errorf("archive nodes cover [0, %d) but %d of %d blocks are archived", next, a.Archived, n)
	}
	return nil
}

func (a archiveState) clone() archiveState {
	return archiveState{Archived: a.Archived, Nodes: append([]ArchiveNode(nil), a.Nodes...)}
}

// nnsCanisterID is the id of the canister with index i on the NNS subnet:
// the bytes 00 00 00 00 00 00 00 i 01 01 (docs/ic-interfaces.md §1).
func nnsCanisterID(i uint64) principal.Principal {
	raw := make([]byte, 10)
	binary.BigEndian.PutUint64(raw, i)
	raw[8], raw[9] = 1, 1
	return principal.Principal{Raw: raw}
}

// archiveCanisterID is the id of the n-th archive canister: the mainnet ICP
// archives' NNS indices 9 and 12 first (qjdve-lqaaa-…, qsgjb-riaaa-…), then
// indices from 1000 on, which nothing else uses.
func archiveCanisterID(n int) principal.Principal {
	switch n {
	case 0:
		return nnsCanisterID(9)
	case 1:
		return nnsCanisterID(12)
	}
	return nnsCanisterID(1000 + uint64(n))
}

// maybeArchive moves blocks to archive canisters while the ledger holds at
// least TriggerThreshold of them.
func (l *ledger) maybeArchive() {
	o := l.opts
	if o.TriggerThreshold == 0 {
		return
	}
	for uint64(len(l.blocks))-l.archive.Archived >= o.TriggerThreshold {
		local := uint64(len(l.blocks)) - l.archive.Archived
		move := min(o.NumBlocksToArchive, local)
		for move > 0 {
			n := len(l.archive.Nodes)
			if n == 0 || (o.NodeMaxBlocks > 0 && l.archive.Nodes[n-1].To-l.archive.Nodes[n-1].From >= o.NodeMaxBlocks) {
				id := archiveCanisterID(n)
				l.archive.Nodes = append(l.archive.Nodes, ArchiveNode{CanisterID: id.String(), From: l.archive.Archived, To: l.archive.Archived})
				n++
			}
			last := &l.archive.Nodes[n-1]
			k := move
			if o.NodeMaxBlocks > 0 {
				k = min(k, o.NodeMaxBlocks-(last.To-last.From))
			}
			last.To += k
			l.archive.Archived += k
			move -= k
		}
	}
}

// archiveNodeOf is the archive canister id, if any.
func (l *ledger) archiveNodeOf(id principal.Principal) (ArchiveNode, bool) {
	for _, n := range l.archive.Nodes {
		if n.CanisterID == id.String() {
			return n, true
		}
	}
	return ArchiveNode{}, false
}

var archiveMethods = map[string]method{
	"get_blocks": {query: true, fn: archiveGetBlocks},
}

// archiveGetBlocks is an archive canister's get_blocks
// (rs/ledger_suite/icp/archive/src/main.rs read_encoded_blocks): a start
// below the node's first block is Err(BadFirstBlockIndex); otherwise the
// intersection of the node's blocks with the first 2000 requested ones.
func archiveGetBlocks(s *Server, c callContext, arg []byte) ([]byte, error) {
	var a candidGetBlocksArgs
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	node, ok := s.ledger.archiveNodeOf(c.canister)
	if !ok {
		return nil, trap("no archive canister %s", c.canister)
	}
	if a.Start < node.From {
		return encode(candidQueryArchiveResult{Err: &candidQueryArchiveError{
			BadFirstBlockIndex: &candidBadFirstBlockIndex{RequestedIndex: a.Start, FirstValidIndex: node.From}}})
	}
	start, end, ok := intersect(node.From, node.To, a.Start, satAdd(a.Start, min(a.Length, maxBlocksPerQuery)))
	out := candidBlockRange{Blocks: []candidBlock{}}
	if ok {
		for i := start; i < end; i++ {
			out.Blocks = append(out.Blocks, s.ledger.candidBlock(i))
		}
		forgeBlocks(&s.faults.ForgeArchivedBlockNext, out.Blocks)
	}
	return encode(candidQueryArchiveResult{Ok: &out})
}

// satAdd is a + b, saturating at the largest uint64 (range_utils::make_range).
func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// intersect is range_utils::intersect of [ls, le) and [rs, re): ok is false
// when they are apart (touching ranges intersect in an empty range).
func intersect(ls, le, rs, re uint64) (start, end uint64, ok bool) {
	if le < rs || re < ls {
		return 0, 0, false
	}
	return max(ls, rs), min(le, re), true
}

// archiveForSave is the archive index for the state file, nil when nothing
// was archived.
func (l *ledger) archiveForSave() *archiveState {
	if l.archive.Archived == 0 {
		return nil
	}
	a := l.archive.clone()
	return &a
}
