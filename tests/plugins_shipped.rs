//! Each shipped plugin in a pipeline, on the same five payments, with the
//! exact outputs and dead letters a user gets.

use weir_tests::{Scratch, file_pipeline, plugin, run_pipeline, toml_path};

const INPUT: &str = r#"{"id":1,"card":"c-1","amount":950.5,"email":"ann@example.com","ip":"10.0.0.1","country":"DE"}
{"id":2,"card":"c-2","amount":12,"email":"bob@example.com","country":"us"}
{"id":3,"card":"c-1","amount":-4,"country":"XX"}
not json
{"id":5,"card":"c-3","amount":500,"note":"big spender","country":"JP"}
"#;

fn line(n: usize) -> &'static str {
    INPUT.lines().nth(n - 1).unwrap()
}

/// Runs one stage over `INPUT` and returns (outputs, dead letters).
fn run_stage(plugin_name: &str, config: &str) -> (Vec<String>, Vec<String>) {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", INPUT);
    let stage = format!(
        "[[stage]]\nname = \"stage\"\nplugin = {}\nconfig = {config}",
        toml_path(&plugin(plugin_name))
    );
    let path = scratch.write(
        "pipeline.toml",
        &file_pipeline(r#"name = "shipped""#, &stage),
    );
    let summary = run_pipeline(&path).expect("pipeline runs");
    let out = scratch.lines("out.jsonl");
    let dead = scratch.lines("dead.jsonl");
    assert_eq!(summary.read, 5);
    assert_eq!(summary.written, out.len() as u64);
    assert_eq!(summary.dead_lettered, dead.len() as u64);
    (out, dead)
}

/// The dead letter for input line `n` refused by the stage with `message`.
fn dead_letter(plugin_name: &str, n: usize, message: &str) -> String {
    let digest = weir::plugin::digest(&std::fs::read(plugin(plugin_name)).unwrap());
    let raw = line(n);
    let value = if raw.starts_with('{') {
        raw.to_string()
    } else {
        format!("\"{raw}\"")
    };
    format!(
        r#"{{"kind":"rejected","message":"{message}","stage":"stage","plugin":"{digest}","source":{{"name":"in","partition":0,"offset":{}}},"event":{{"key":null,"value":{value},"headers":{{}},"time":0}}}}"#,
        n - 1
    )
}

const NOT_JSON: &str = "value is not json: invalid json at byte 1: expected `null`";

#[test]
fn filter_compares_numbers() {
    let (out, dead) = run_stage("filter", r#"{ field = "amount", op = ">", value = "100" }"#);
    assert_eq!(out, [line(1), line(5)]);
    assert_eq!(dead, [dead_letter("filter", 4, NOT_JSON)]);
}

#[test]
fn filter_matches_substrings_and_drops_missing_fields() {
    let (out, _) = run_stage(
        "filter",
        r#"{ field = "note", op = "contains", value = "big" }"#,
    );
    assert_eq!(out, [line(5)]);
}

#[test]
fn filter_can_reject_missing_fields() {
    let (out, dead) = run_stage(
        "filter",
        r#"{ field = "note", op = "==", value = "big spender", missing = "reject" }"#,
    );
    assert_eq!(out, [line(5)]);
    let missing = "field `note` is missing";
    assert_eq!(
        dead,
        [
            dead_letter("filter", 1, missing),
            dead_letter("filter", 2, missing),
            dead_letter("filter", 3, missing),
            dead_letter("filter", 4, NOT_JSON),
        ]
    );
}

#[test]
fn mask_pii_hashes_fields_and_keeps_every_other_byte() {
    let (out, dead) = run_stage(
        "mask-pii",
        r#"{ fields = "email, ip", mode = "hash", salt = "pepper" }"#,
    );
    // sha256("pepper" + raw field text), first 8 bytes in hex.
    assert_eq!(
        out,
        [
            r#"{"id":1,"card":"c-1","amount":950.5,"email":"sha256:a2488f15a92b568b","ip":"sha256:2ae5df4a43148563","country":"DE"}"#,
            r#"{"id":2,"card":"c-2","amount":12,"email":"sha256:6c8afbd1e62e823a","country":"us"}"#,
            line(3),
            line(5),
        ]
    );
    assert_eq!(dead, [dead_letter("mask-pii", 4, NOT_JSON)]);
}

#[test]
fn mask_pii_masks_fields() {
    let (out, _) = run_stage("mask-pii", r#"{ fields = "card" }"#);
    assert_eq!(out[0], line(1).replace(r#""c-1""#, r#""***""#));
    assert_eq!(out[3], line(5).replace(r#""c-3""#, r#""***""#));
}

#[test]
fn json_schema_rejects_events_that_do_not_match() {
    let schema = r#"{ type = "object", required = ["id", "amount", "email"], properties = { amount = { type = "number", minimum = 0 } } }"#;
    let (out, dead) = run_stage("json-schema", &format!("{{ schema = {schema} }}"));
    assert_eq!(out, [line(1), line(2)]);
    assert_eq!(
        dead,
        [
            dead_letter(
                "json-schema",
                3,
                r#"/: \"email\" is a required property; /amount: -4 is less than the minimum of 0"#
            ),
            dead_letter("json-schema", 4, NOT_JSON),
            dead_letter("json-schema", 5, r#"/: \"email\" is a required property"#),
        ]
    );
}

#[test]
fn enrich_geo_appends_country_details() {
    let (out, dead) = run_stage("enrich-geo", r#"{ field = "country" }"#);
    let geo = |raw: &str, geo: &str| format!("{},\"geo\":{geo}}}", &raw[..raw.len() - 1]);
    assert_eq!(
        out,
        [
            geo(
                line(1),
                r#"{"country_name":"Germany","continent":"Europe","currency":"EUR"}"#
            ),
            geo(
                line(2),
                r#"{"country_name":"United States","continent":"North America","currency":"USD"}"#
            ),
            geo(line(3), r#"{"continent":"unknown"}"#),
            geo(
                line(5),
                r#"{"country_name":"Japan","continent":"Asia","currency":"JPY"}"#
            ),
        ]
    );
    assert_eq!(dead, [dead_letter("enrich-geo", 4, NOT_JSON)]);
}

#[test]
fn stages_chain_in_order() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", INPUT);
    let path = scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[[source]]
name = "in"
type = "file"
path = "in.jsonl"

[[stage]]
name = "big"
plugin = {filter}
config = {{ field = "amount", op = ">=", value = "500" }}

[[stage]]
name = "mask"
plugin = {mask}
config = {{ fields = "email,ip,card" }}

[[stage]]
name = "geo"
plugin = {geo}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#,
            filter = toml_path(&plugin("filter")),
            mask = toml_path(&plugin("mask-pii")),
            geo = toml_path(&plugin("enrich-geo")),
        ),
    );
    let summary = run_pipeline(&path).expect("pipeline runs");
    assert_eq!(summary.dead_lettered, 1);
    assert_eq!(
        scratch.lines("out.jsonl"),
        [
            r#"{"id":1,"card":"***","amount":950.5,"email":"***","ip":"***","country":"DE","geo":{"country_name":"Germany","continent":"Europe","currency":"EUR"}}"#,
            r#"{"id":5,"card":"***","amount":500,"note":"big spender","country":"JP","geo":{"country_name":"Japan","continent":"Asia","currency":"JPY"}}"#,
        ]
    );
    // The default dead-letter file sits beside the pipeline file.
    assert_eq!(scratch.lines("dead-letters.jsonl").len(), 1);
}
