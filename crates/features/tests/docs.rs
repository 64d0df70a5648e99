//! `docs/features.md` documents every feature of the schema, in order.

#![allow(clippy::unwrap_used, missing_docs)]

#[test]
fn every_feature_is_in_the_docs_table_in_order() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/features.md"
    ))
    .unwrap();
    let mut from = 0;
    for (i, f) in polyedge_features::FEATURES.iter().enumerate() {
        let row = format!("| {i} | `{}` |", f.name);
        let at = doc[from..].find(&row).unwrap_or_else(|| {
            panic!("docs/features.md: no table row {row:?} after the previous one")
        });
        from += at + row.len();
    }
}
