package main

import (
	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
)

// poolsCmd is `nodeshare pools`: the pool lifecycle (docs/pool-rules.md).
type poolsCmd struct {
	Replay poolsReplayCmd `cmd:"" help:"Apply lifecycle facts to a pool's terms and print its state, stakes, transfers and votes (the lifecycle-v1 contract)."`
}

// poolsReplayCmd prints one JSON object on success; on invalid input it
// exits 1 with the reason (naming the field and the value) on stderr and
// nothing on stdout.
type poolsReplayCmd struct {
	In string `name:"in" required:"" placeholder:"FILE|-" help:"The input document {\"terms\": ..., \"facts\": [...]}; - reads standard input."`
}

func (c *poolsReplayCmd) Run(e env) error {
	r, closeIn, err := openInput(c.In, e.stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	out, err := lifecycle.ReplayJSON(r)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}
