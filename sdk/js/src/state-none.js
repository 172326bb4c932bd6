// No keyed state: build.js resolves "weir-sdk-state-import" to this file for
// a plugin built without `state = true`, whose component does not import
// `weir:plugin/state`.

export const imported = null;
