//! Two batch layouts across the plugin boundary, measured side by side:
//!
//! - records: `list<event>`, each event a record with nested byte lists
//!   (`benches/wit/layouts.wit`, guest in `benches/layouts-guest`);
//! - packed: weir's contract, one byte buffer plus frame ends, returning
//!   kept events by index (`wit/weir.wit`, the shipped `filter` plugin run
//!   through a weir stage).
//!
//! Both guests run the same filter (`amount > 500`) with the same JSON
//! scanner. Run with `cargo xtask bench`.

use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weir::engine::stage::StageOutput;
use weir::event::Event;
use weir_benches::{filter_stage, measure, payments, root};

wasmtime::component::bindgen!({
    path: "wit/layouts.wit",
    world: "records-filter",
});

use exports::weir::bench::records;

const BUDGET: Duration = Duration::from_secs(3);

struct Host {
    wasi: WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn main() {
    let guest =
        root().join("benches/layouts-guest/target/wasm32-wasip2/release/layouts_guest.wasm");

    // The records guest, on an engine configured like weir's.
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    let engine = Engine::new(&config).unwrap();
    let component = Component::from_file(&engine, &guest).expect("run `cargo xtask bench`");
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let host = Host {
        wasi: WasiCtx::builder().build(),
        table: Default::default(),
    };
    let mut store = Store::new(&engine, host);
    let bindings = RecordsFilter::instantiate(&mut store, &component, &linker).unwrap();
    let records = bindings.weir_bench_records();

    // The packed guest, through a weir stage.
    let (_runtime, mut stage) = filter_stage();

    println!("the boundary alone: keep every other ~200-byte event, one core");
    println!(
        "{:>6}  {:>16}  {:>16}  {:>15}",
        "batch", "records ns/ev", "packed ns/ev", "records/packed"
    );
    for batch in [1usize, 64, 1024] {
        let input = payments(batch);
        let mut out: Vec<Event> = Vec::with_capacity(batch);
        let mut frames = Vec::new();
        let mut ends = Vec::new();
        let by_records = measure(&input, BUDGET, |events| {
            out.clear();
            let batch: Vec<records::Event> = events.into_iter().map(to_record).collect();
            let kept = records.call_alternate(&mut store, &batch).unwrap();
            out.extend(kept.into_iter().map(from_record));
        });
        let packed = measure(&input, BUDGET, |events| {
            out.clear();
            frames.clear();
            ends.clear();
            for event in &events {
                frames.extend_from_slice(&event.value);
                ends.push(frames.len() as u32);
            }
            let kept = records
                .call_alternate_packed(&mut store, &frames, &ends)
                .unwrap();
            let mut events: Vec<Option<Event>> = events.into_iter().map(Some).collect();
            out.extend(
                kept.iter()
                    .filter_map(|&i| events.get_mut(i as usize)?.take()),
            );
        });
        println!(
            "{batch:>6}  {:>16.1}  {:>16.1}  {:>14.1}x",
            1e9 / by_records,
            1e9 / packed,
            packed / by_records
        );
    }
    println!();
    println!("filter `amount > 500` on ~200-byte JSON events: two layouts, one core");
    println!(
        "{:>6}  {:>16}  {:>16}  {:>15}",
        "batch", "records ns/ev", "packed ns/ev", "records/packed"
    );
    for batch in [1usize, 64, 1024] {
        let input = payments(batch);
        let mut out: Vec<Event> = Vec::with_capacity(batch);
        let mut dead = Vec::new();
        let by_records = measure(&input, BUDGET, |events| {
            out.clear();
            let batch: Vec<records::Event> = events.into_iter().map(to_record).collect();
            let kept = records.call_filter(&mut store, &batch).unwrap();
            out.extend(kept.into_iter().map(from_record));
        });
        let packed = measure(&input, BUDGET, |events| {
            out.clear();
            stage
                .process(
                    events,
                    StageOutput {
                        events: &mut out,
                        dead: &mut dead,
                    },
                )
                .unwrap();
        });
        println!(
            "{batch:>6}  {:>16.1}  {:>16.1}  {:>14.1}x",
            1e9 / by_records,
            1e9 / packed,
            packed / by_records
        );
    }
}

fn to_record(event: Event) -> records::Event {
    records::Event {
        key: event.key,
        value: event.value,
        headers: event
            .headers
            .into_iter()
            .map(|(name, value)| records::Header { name, value })
            .collect(),
        time: event.time,
    }
}

fn from_record(event: records::Event) -> Event {
    Event {
        key: event.key,
        value: event.value,
        headers: event
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        time: event.time,
        position: Default::default(),
        route_key: None,
    }
}
