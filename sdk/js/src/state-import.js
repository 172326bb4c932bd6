// The component's `weir:plugin/state` import, for a plugin built with
// `state = true` (build.js resolves "weir-sdk-state-import" to this file).

import * as state from "weir:plugin/state@0.1.0";

export const imported = state;
