package icsim

import (
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/principal/icrc"
)

// candidCrashers killed the simulator's process through agent-go's decoder
// before candidSane (found by FuzzCanisterArgs): a type-table length of
// terabytes, a recursive type, a principal of terabytes.
var candidCrashers = [][]byte{
	[]byte("DIDL0m0A\xb3ڰ\xc3\xc3\xda0\x000l"),
	[]byte("DIDL\x06mxA\x00l\x02 x0xnxnxl\x06\x00\x00\x02x\x04\x05\x06x i0x\x01x00"),
	[]byte("DIDL\x03m{n\x00l\x02\xb3\xb0\xda\xc3\x03h\xad\x86ʃ\x05\x01\x01\x02\x01\xc0\xc0\xc0\xc0\xc0\xc0\n\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01\x00"),
}

func TestDecodeArgsSurvivesCrashers(t *testing.T) {
	for i, b := range candidCrashers {
		var a candidGetBlocksArgs
		var l candidLegacyTransferArgs
		var acct candidAccountBalanceArgs
		for _, out := range []any{&a, &l, &acct} {
			if err := decodeArgs(b, out); err == nil {
				t.Fatalf("crasher %d decoded into %T", i, out)
			}
		}
	}
	// What clients send still passes.
	now := uint64(time.Now().UnixNano())
	memo := []byte("m")
	for _, v := range []any{
		candidTransferArg{To: candidAccount{Owner: cmcID, Subaccount: &memo}, Amount: nat(1), Memo: &memo, CreatedAtTime: &now},
		candidLegacyTransferArgs{To: mustHex(accountID(icrc.Account{Owner: cmcID})), Amount: candidTokens{1}, CreatedAtTime: &candidTimeStamp{now}},
		candidListRewardsRequest{DateFilter: &candidDateRangeFilter{StartTimestampSeconds: &now}},
		candidGetBlocksArgs{Start: 1, Length: 2},
		uint64(7),
		candidNRCCalcRequest{Day: candidNRCDate{Day: ptr(uint32(1))}, AlgorithmVersion: &candidNRCVersion{1}},
	} {
		b, err := encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := candidSane(b); err != nil {
			t.Fatalf("%T refused: %v", v, err)
		}
	}
}
