//! docs/tables.md embeds the column reference generated from the table definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[test]
fn docs_tables_md_has_the_current_column_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tables.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let generated = polyedge_tables::tables::schema_markdown();
    if !docs.contains(&generated) {
        let out = std::env::temp_dir().join("polyedge-tables-schema.md");
        std::fs::write(&out, &generated).unwrap();
        panic!(
            "docs/tables.md does not contain the current column reference; the generated text \
             is in {} (paste it between the markers in docs/tables.md)",
            out.display()
        );
    }
}
