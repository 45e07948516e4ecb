//! What the adapters' unit tests share: feeding lines to an adapter and reading the events.

use serde_json::Value;

use super::Adapter;
use crate::events::Event;

/// The events of `lines` fed to `adapter`, then stdout's end.
pub(crate) fn map(mut adapter: Adapter, lines: &[&str]) -> Vec<Event> {
    let mut out = Vec::new();
    for line in lines {
        adapter.on_line(line.as_bytes(), &mut out);
    }
    adapter.finish(&mut out);
    out
}

/// The `type` of each event.
pub(crate) fn types(out: &[Event]) -> Vec<String> {
    out.iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The item of the `itemCompleted` event at `index`.
pub(crate) fn completed_item(out: &[Event], index: usize) -> &Value {
    match &out[index] {
        Event::ItemCompleted { item } => item,
        other => panic!("event {index} is {other:?}, not itemCompleted"),
    }
}
