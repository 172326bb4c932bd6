// Lines for weir's log, tagged with the stage and plugin. Lines are rate
// limited per stage: logging per event loses lines, not throughput.

import { log } from "weir:plugin/host@0.1.0";

export const trace = (message) => log("trace", String(message));
export const debug = (message) => log("debug", String(message));
export const info = (message) => log("info", String(message));
export const warn = (message) => log("warn", String(message));
export const error = (message) => log("error", String(message));
