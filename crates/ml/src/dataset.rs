//! The labelled feature dataset: one row per window and decision time, as one Parquet file.
//!
//! Columns (in this order; `docs/features.md` has the full table):
//!
//! | column | Arrow type | meaning |
//! |---|---|---|
//! | `recording` | utf8 | recording directory name |
//! | `slug` | utf8 | window slug |
//! | `asset` | utf8 | `btc`, … |
//! | `duration_s` | uint32 | window length |
//! | `window_start` | timestamp\[ns, UTC\] | window start |
//! | `decision_time` | timestamp\[ns, UTC\] | the instant the features describe (`end − t_left_s`) |
//! | `t_left_s` | uint32 | seconds left at the decision time |
//! | `outcome_up` | bool | the label: `true` when the window resolved Up |
//! | `outcome_source` | utf8 | `official`, `chainlink_derived` or `inferred` |
//! | `market_mid` | float64, nullable | the market's Up mid at the decision time (null: no usable book) |
//! | `reference` | utf8, nullable | reference series behind strike/vol/momentum |
//! | `strike_source` | utf8, nullable | `index` or `reference_at_start` |
//! | `candles` | utf8, nullable | candle series behind the indicators |
//! | one column per feature | float64, nullable | **null when the input is missing** |
//!
//! Missing features are Arrow nulls (pandas reads them as `NaN`, polars and DuckDB as null;
//! a stored `NaN` would not count as missing in polars or DuckDB). In memory they are `NaN`.
//! The file's key-value metadata holds `polyedge.features` (the feature names, JSON) and
//! `polyedge.schema_hash` (`polyedge_features::schema_hash`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampNanosecondBuilder, UInt32Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::MlError;

/// Metadata key of the feature names (JSON array).
pub const META_FEATURES: &str = "polyedge.features";
/// Metadata key of the schema hash.
pub const META_SCHEMA_HASH: &str = "polyedge.schema_hash";

/// The fixed (non-feature) columns, in order.
pub const META_COLUMNS: [&str; 13] = [
    "recording",
    "slug",
    "asset",
    "duration_s",
    "window_start",
    "decision_time",
    "t_left_s",
    "outcome_up",
    "outcome_source",
    "market_mid",
    "reference",
    "strike_source",
    "candles",
];

/// One row: a window at one decision time.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Recording directory name.
    pub recording: String,
    /// Window slug.
    pub slug: String,
    /// Asset ticker.
    pub asset: String,
    /// Window length, seconds.
    pub duration_s: u32,
    /// Window start, ns since epoch.
    pub window_start_ns: u64,
    /// Decision instant, ns since epoch.
    pub decision_ns: u64,
    /// Seconds left at the decision instant.
    pub t_left_s: u32,
    /// The label.
    pub outcome_up: bool,
    /// `official`, `chainlink_derived` or `inferred`.
    pub outcome_source: String,
    /// The market's Up mid (dollars), when usable.
    pub market_mid: Option<f64>,
    /// Reference series name.
    pub reference: Option<String>,
    /// Strike source.
    pub strike_source: Option<String>,
    /// Candle series name.
    pub candles: Option<String>,
    /// One value per feature (`NaN` = missing), in the dataset's feature order.
    pub features: Vec<f64>,
}

/// A dataset in memory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    /// Feature names, in column order.
    pub feature_names: Vec<String>,
    /// Schema hash of those names (`polyedge_features::schema_hash` when built by the engine).
    pub schema_hash: String,
    /// Rows.
    pub rows: Vec<Row>,
}

fn schema(features: &[String], hash: &str) -> Result<Schema, MlError> {
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("recording", DataType::Utf8, false),
        Field::new("slug", DataType::Utf8, false),
        Field::new("asset", DataType::Utf8, false),
        Field::new("duration_s", DataType::UInt32, false),
        Field::new("window_start", ts.clone(), false),
        Field::new("decision_time", ts, false),
        Field::new("t_left_s", DataType::UInt32, false),
        Field::new("outcome_up", DataType::Boolean, false),
        Field::new("outcome_source", DataType::Utf8, false),
        Field::new("market_mid", DataType::Float64, true),
        Field::new("reference", DataType::Utf8, true),
        Field::new("strike_source", DataType::Utf8, true),
        Field::new("candles", DataType::Utf8, true),
    ];
    for f in features {
        if META_COLUMNS.contains(&f.as_str()) {
            return Err(MlError::Schema(format!(
                "feature name {f:?} collides with a fixed column"
            )));
        }
        fields.push(Field::new(f, DataType::Float64, true));
    }
    let mut meta = std::collections::HashMap::new();
    meta.insert(META_FEATURES.to_string(), serde_json::to_string(features)?);
    meta.insert(META_SCHEMA_HASH.to_string(), hash.to_string());
    Ok(Schema::new_with_metadata(fields, meta))
}

impl Dataset {
    /// Writes the dataset to `path` (atomically: `<path>.tmp` then rename), zstd-compressed.
    ///
    /// # Errors
    /// I/O or Arrow/Parquet errors; a row with the wrong number of features.
    pub fn write_parquet(&self, path: &Path) -> Result<(), MlError> {
        let schema = Arc::new(schema(&self.feature_names, &self.schema_hash)?);
        let nf = self.feature_names.len();
        if let Some(r) = self.rows.iter().find(|r| r.features.len() != nf) {
            return Err(MlError::Schema(format!(
                "row {} at {} has {} features, the schema {nf}",
                r.slug,
                r.t_left_s,
                r.features.len()
            )));
        }
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|e| MlError::io(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_key_value_metadata(Some(vec![
                KeyValue::new(
                    META_FEATURES.to_string(),
                    serde_json::to_string(&self.feature_names)?,
                ),
                KeyValue::new(META_SCHEMA_HASH.to_string(), self.schema_hash.clone()),
            ]))
            .build();
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        for chunk in self.rows.chunks(16 * 1024) {
            w.write(&batch(&schema, chunk, nf)?)?;
        }
        w.close()?;
        std::fs::rename(&tmp, path).map_err(|e| MlError::io(path, e))?;
        Ok(())
    }

    /// Reads a dataset written by [`Self::write_parquet`].
    ///
    /// # Errors
    /// I/O or Parquet errors; a file without the `polyedge.features` metadata or with a column of
    /// the wrong type (the message names the file and column).
    pub fn read_parquet(path: &Path) -> Result<Self, MlError> {
        let file = File::open(path).map_err(|e| MlError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let kv = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
        let names_json = get(META_FEATURES).ok_or_else(|| {
            MlError::Schema(format!(
                "{}: no {META_FEATURES} metadata (not a `polyedge features` dataset)",
                path.display()
            ))
        })?;
        let feature_names: Vec<String> = serde_json::from_str(&names_json)?;
        let schema_hash = get(META_SCHEMA_HASH).unwrap_or_default();
        let reader = builder.build()?;
        let mut rows = Vec::new();
        for b in reader {
            let b = b?;
            read_batch(&b, &feature_names, path, &mut rows)?;
        }
        Ok(Dataset {
            feature_names,
            schema_hash,
            rows,
        })
    }
}

fn batch(schema: &Arc<Schema>, rows: &[Row], nf: usize) -> Result<RecordBatch, MlError> {
    let mut recording = StringBuilder::new();
    let mut slug = StringBuilder::new();
    let mut asset = StringBuilder::new();
    let mut duration = UInt32Builder::new();
    let mut start = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut decision = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut t_left = UInt32Builder::new();
    let mut outcome = BooleanBuilder::new();
    let mut source = StringBuilder::new();
    let mut mid = Float64Builder::new();
    let mut reference = StringBuilder::new();
    let mut strike = StringBuilder::new();
    let mut candles = StringBuilder::new();
    let mut feats: Vec<Float64Builder> = (0..nf).map(|_| Float64Builder::new()).collect();
    for r in rows {
        recording.append_value(&r.recording);
        slug.append_value(&r.slug);
        asset.append_value(&r.asset);
        duration.append_value(r.duration_s);
        start.append_value(i64::try_from(r.window_start_ns).unwrap_or(i64::MAX));
        decision.append_value(i64::try_from(r.decision_ns).unwrap_or(i64::MAX));
        t_left.append_value(r.t_left_s);
        outcome.append_value(r.outcome_up);
        source.append_value(&r.outcome_source);
        mid.append_option(r.market_mid);
        reference.append_option(r.reference.as_deref());
        strike.append_option(r.strike_source.as_deref());
        candles.append_option(r.candles.as_deref());
        for (b, &v) in feats.iter_mut().zip(&r.features) {
            b.append_option(v.is_finite().then_some(v));
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(recording.finish()),
        Arc::new(slug.finish()),
        Arc::new(asset.finish()),
        Arc::new(duration.finish()),
        Arc::new(start.finish()),
        Arc::new(decision.finish()),
        Arc::new(t_left.finish()),
        Arc::new(outcome.finish()),
        Arc::new(source.finish()),
        Arc::new(mid.finish()),
        Arc::new(reference.finish()),
        Arc::new(strike.finish()),
        Arc::new(candles.finish()),
    ];
    for mut b in feats {
        cols.push(Arc::new(b.finish()));
    }
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

fn col<'a>(b: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a ArrayRef, MlError> {
    b.column_by_name(name)
        .ok_or_else(|| MlError::Schema(format!("{}: no column {name:?}", path.display())))
}

fn typed<'a, T: 'static>(
    a: &'a ArrayRef,
    name: &str,
    path: &Path,
    f: impl Fn(&'a ArrayRef) -> Option<&'a T>,
) -> Result<&'a T, MlError> {
    f(a).ok_or_else(|| {
        MlError::Schema(format!(
            "{}: column {name:?} has type {}, expected another",
            path.display(),
            a.data_type()
        ))
    })
}

fn read_batch(
    b: &RecordBatch,
    names: &[String],
    path: &Path,
    rows: &mut Vec<Row>,
) -> Result<(), MlError> {
    let s = |n: &str| -> Result<_, MlError> {
        let a = col(b, n, path)?;
        typed(a, n, path, |a| a.as_string_opt::<i32>())
    };
    let u = |n: &str| -> Result<_, MlError> {
        let a = col(b, n, path)?;
        typed(a, n, path, |a| a.as_primitive_opt::<UInt32Type>())
    };
    let ts = |n: &str| -> Result<_, MlError> {
        let a = col(b, n, path)?;
        typed(a, n, path, |a| {
            a.as_primitive_opt::<TimestampNanosecondType>()
        })
    };
    let fl = |n: &str| -> Result<_, MlError> {
        let a = col(b, n, path)?;
        typed(a, n, path, |a| a.as_primitive_opt::<Float64Type>())
    };
    let (recording, slug, asset) = (s("recording")?, s("slug")?, s("asset")?);
    let (duration, t_left) = (u("duration_s")?, u("t_left_s")?);
    let (start, decision) = (ts("window_start")?, ts("decision_time")?);
    let outcome = {
        let a = col(b, "outcome_up", path)?;
        typed(a, "outcome_up", path, |a| a.as_boolean_opt())?
    };
    let source = s("outcome_source")?;
    let mid = fl("market_mid")?;
    let (reference, strike, candles) = (s("reference")?, s("strike_source")?, s("candles")?);
    let feats = names.iter().map(|n| fl(n)).collect::<Result<Vec<_>, _>>()?;
    let opt_s =
        |a: &arrow_array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
    for i in 0..b.num_rows() {
        rows.push(Row {
            recording: recording.value(i).to_string(),
            slug: slug.value(i).to_string(),
            asset: asset.value(i).to_string(),
            duration_s: duration.value(i),
            window_start_ns: u64::try_from(start.value(i)).unwrap_or_default(),
            decision_ns: u64::try_from(decision.value(i)).unwrap_or_default(),
            t_left_s: t_left.value(i),
            outcome_up: outcome.value(i),
            outcome_source: source.value(i).to_string(),
            market_mid: mid.is_valid(i).then(|| mid.value(i)),
            reference: opt_s(reference, i),
            strike_source: opt_s(strike, i),
            candles: opt_s(candles, i),
            features: feats
                .iter()
                .map(|a| if a.is_valid(i) { a.value(i) } else { f64::NAN })
                .collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_missing_as_missing() {
        let d = Dataset {
            feature_names: vec!["a".into(), "b".into()],
            schema_hash: "v1:x".into(),
            rows: vec![Row {
                recording: "r".into(),
                slug: "btc-updown-5m-1".into(),
                asset: "btc".into(),
                duration_s: 300,
                window_start_ns: 1_000_000_000,
                decision_ns: 61_000_000_000,
                t_left_s: 240,
                outcome_up: true,
                outcome_source: "official".into(),
                market_mid: None,
                reference: Some("chainlink".into()),
                strike_source: None,
                candles: None,
                features: vec![0.0, f64::NAN],
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        d.write_parquet(&p).unwrap();
        let back = Dataset::read_parquet(&p).unwrap();
        assert_eq!(back.feature_names, d.feature_names);
        assert_eq!(back.schema_hash, "v1:x");
        assert_eq!(back.rows[0].features[0], 0.0);
        assert!(back.rows[0].features[1].is_nan());
        assert_eq!(back.rows[0].market_mid, None);
        let mut a = back.rows[0].clone();
        let mut b = d.rows[0].clone();
        a.features.clear();
        b.features.clear();
        assert_eq!(a, b);
    }
}
