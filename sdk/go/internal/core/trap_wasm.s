#include "textflag.h"

// func trap() executes wasm's `unreachable`: the instance traps.
TEXT ·trap(SB), NOSPLIT, $0-0
	Unreachable
