//! Column types and the table-definition macro: one Rust struct per table gives the Parquet
//! (Arrow) schema, the ClickHouse DDL and the ClickHouse `RowBinary` row, so the two stores
//! cannot drift apart.
//!
//! Type mapping (Rust → Arrow/Parquet → ClickHouse):
//!
//! | Rust            | Arrow / Parquet          | ClickHouse        |
//! |-----------------|--------------------------|-------------------|
//! | `i64`           | Int64                    | `Int64`           |
//! | `i32`           | Int32                    | `Int32`           |
//! | `u32`           | UInt32                   | `UInt32`          |
//! | `u64`           | UInt64                   | `UInt64`          |
//! | `u8`            | UInt8                    | `UInt8`           |
//! | `bool`          | Boolean                  | `UInt8` (0/1)     |
//! | `String`        | Utf8                     | `String`          |
//! | [`Dec18`]       | Decimal128(38, 18)       | `Decimal128(18)`  |
//! | `Option<T>`     | the same, nullable       | `Nullable(T)`     |
//!
//! Every type here exists in ClickHouse 18.16 without experimental settings (checked against
//! Debian's `clickhouse-server` 18.16.1 by the crate's tests).

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
    UInt8Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

/// An exact decimal with 18 fractional digits (`i128` of 1e-18 units), as `Fixed18` in core:
/// Parquet `Decimal128(38, 18)`, ClickHouse `Decimal128(18)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dec18(pub i128);

/// A value that can be stored in a table column. See the [module docs](self) for the mapping.
pub trait ColumnValue {
    /// The Arrow builder of the column.
    type Builder: ArrayBuilder;
    /// A new, empty builder.
    fn builder() -> Self::Builder;
    /// The Arrow type (without nullability).
    fn arrow_type() -> DataType;
    /// `true` for `Option<T>`.
    fn nullable() -> bool {
        false
    }
    /// The ClickHouse type.
    fn ch_type() -> String;
    /// Appends the value to the builder.
    fn append(&self, b: &mut Self::Builder);
}

macro_rules! plain_column {
    ($t:ty, $builder:ty, $dt:expr, $ch:literal) => {
        impl ColumnValue for $t {
            type Builder = $builder;
            fn builder() -> $builder {
                <$builder>::new()
            }
            fn arrow_type() -> DataType {
                $dt
            }
            fn ch_type() -> String {
                $ch.to_string()
            }
            fn append(&self, b: &mut $builder) {
                b.append_value(*self);
            }
        }
    };
}

plain_column!(i64, Int64Builder, DataType::Int64, "Int64");
plain_column!(i32, Int32Builder, DataType::Int32, "Int32");
plain_column!(u32, UInt32Builder, DataType::UInt32, "UInt32");
plain_column!(u64, UInt64Builder, DataType::UInt64, "UInt64");
plain_column!(u8, UInt8Builder, DataType::UInt8, "UInt8");
plain_column!(bool, BooleanBuilder, DataType::Boolean, "UInt8");

impl ColumnValue for String {
    type Builder = StringBuilder;
    fn builder() -> StringBuilder {
        StringBuilder::new()
    }
    fn arrow_type() -> DataType {
        DataType::Utf8
    }
    fn ch_type() -> String {
        "String".to_string()
    }
    fn append(&self, b: &mut StringBuilder) {
        b.append_value(self);
    }
}

impl ColumnValue for Dec18 {
    type Builder = Decimal128Builder;
    fn builder() -> Decimal128Builder {
        // (38, 18) is a valid precision/scale pair, so this cannot fail.
        Decimal128Builder::new()
            .with_precision_and_scale(38, 18)
            .unwrap_or_default()
    }
    fn arrow_type() -> DataType {
        DataType::Decimal128(38, 18)
    }
    fn ch_type() -> String {
        "Decimal128(18)".to_string()
    }
    fn append(&self, b: &mut Decimal128Builder) {
        b.append_value(self.0);
    }
}

macro_rules! option_column {
    ($t:ty) => {
        impl ColumnValue for Option<$t> {
            type Builder = <$t as ColumnValue>::Builder;
            fn builder() -> Self::Builder {
                <$t as ColumnValue>::builder()
            }
            fn arrow_type() -> DataType {
                <$t as ColumnValue>::arrow_type()
            }
            fn nullable() -> bool {
                true
            }
            fn ch_type() -> String {
                format!("Nullable({})", <$t as ColumnValue>::ch_type())
            }
            fn append(&self, b: &mut Self::Builder) {
                match self {
                    Some(v) => v.append(b),
                    None => b.append_null(),
                }
            }
        }
    };
}

option_column!(i64);
option_column!(i32);
option_column!(u32);
option_column!(u64);
option_column!(String);
option_column!(Dec18);

/// One column of a table, for DDL and docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// ClickHouse type.
    pub ch_type: String,
    /// Arrow type.
    pub arrow_type: DataType,
    /// Nullable.
    pub nullable: bool,
    /// `true` if the column exists only in ClickHouse (recording and segment keys).
    pub ch_only: bool,
    /// What it holds, with units.
    pub doc: &'static str,
}

/// Builds Arrow record batches from rows of one table.
pub trait Builders<R>: Send {
    /// Appends one row.
    fn push(&mut self, row: &R);
    /// Rows appended since the last [`finish`](Self::finish).
    fn len(&self) -> usize;
    /// `true` if no rows are buffered.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The buffered rows as a batch (with `schema`); the builders are reset.
    ///
    /// # Errors
    /// An Arrow error if the columns do not match the schema (a bug).
    fn finish(&mut self, schema: SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError>;
}

/// A row of one of polyedge's tables.
pub trait TableRow:
    ::clickhouse::Row + ::clickhouse::RowOwned + Serialize + Clone + Send + Sync + 'static
{
    /// The table's name (Parquet directory and ClickHouse table).
    const TABLE: &'static str;
    /// ClickHouse `ORDER BY` (the replacing key: rows with equal keys are duplicates).
    const ORDER_BY: &'static str;
    /// ClickHouse `PARTITION BY` expression, if any.
    const PARTITION_BY: Option<&'static str>;
    /// ClickHouse `ReplacingMergeTree` version column, if any (the highest version wins).
    const VERSION: Option<&'static str>;
    /// The Arrow builders of the Parquet columns.
    type Builders: Builders<Self>;
    /// New empty builders.
    fn builders() -> Self::Builders;
    /// All columns (ClickHouse-only ones first).
    fn columns() -> Vec<Column>;
    /// The Arrow schema of the Parquet file (columns that are not ClickHouse-only).
    fn arrow_schema() -> SchemaRef {
        let fields: Vec<Field> = Self::columns()
            .into_iter()
            .filter(|c| !c.ch_only)
            .map(|c| Field::new(c.name, c.arrow_type, c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }
    /// `CREATE TABLE IF NOT EXISTS` for ClickHouse (18.16 syntax and types).
    fn create_table_sql(database: &str) -> String {
        let cols: Vec<String> = Self::columns()
            .iter()
            .map(|c| format!("    `{}` {}", c.name, c.ch_type))
            .collect();
        let engine = match Self::VERSION {
            Some(v) => format!("ReplacingMergeTree(`{v}`)"),
            None => "ReplacingMergeTree()".to_string(),
        };
        let partition = Self::PARTITION_BY
            .map(|p| format!("\nPARTITION BY {p}"))
            .unwrap_or_default();
        format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.`{}` (\n{}\n) ENGINE = {engine}{partition}\nORDER BY ({})",
            Self::TABLE,
            cols.join(",\n"),
            Self::ORDER_BY
        )
    }
}

/// `Box<dyn ArrayBuilder>::finish` as an [`ArrayRef`].
pub(crate) fn finish_builder<B: ArrayBuilder>(b: &mut B) -> ArrayRef {
    b.finish()
}

/// Defines a table: the row struct (with serde and `clickhouse::Row`), its column list, its
/// Arrow builders and its [`TableRow`] impl.
macro_rules! table {
    (
        $(#[$meta:meta])*
        struct $name:ident / $builders:ident = $table:literal;
        order_by: $order:literal;
        partition_by: $part:expr;
        version: $ver:expr;
        ch_only { $($(#[doc = $kdoc:literal])+ $kf:ident : $kt:ty,)* }
        columns { $($(#[doc = $doc:literal])+ $f:ident : $t:ty,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize, ::clickhouse::Row)]
        pub struct $name {
            $( $(#[doc = $kdoc])+ pub $kf: $kt, )*
            $( $(#[doc = $doc])+ pub $f: $t, )*
        }

        #[doc = concat!("Arrow builders of [`", stringify!($name), "`].")]
        pub struct $builders {
            $( $f: <$t as $crate::schema::ColumnValue>::Builder, )*
            len: usize,
        }

        impl $crate::schema::Builders<$name> for $builders {
            fn push(&mut self, row: &$name) {
                $( $crate::schema::ColumnValue::append(&row.$f, &mut self.$f); )*
                self.len += 1;
            }
            fn len(&self) -> usize {
                self.len
            }
            fn finish(
                &mut self,
                schema: ::arrow_schema::SchemaRef,
            ) -> Result<::arrow_array::RecordBatch, ::arrow_schema::ArrowError> {
                self.len = 0;
                ::arrow_array::RecordBatch::try_new(
                    schema,
                    vec![$( $crate::schema::finish_builder(&mut self.$f), )*],
                )
            }
        }

        impl $crate::schema::TableRow for $name {
            const TABLE: &'static str = $table;
            const ORDER_BY: &'static str = $order;
            const PARTITION_BY: Option<&'static str> = $part;
            const VERSION: Option<&'static str> = $ver;
            type Builders = $builders;
            fn builders() -> $builders {
                $builders {
                    $( $f: <$t as $crate::schema::ColumnValue>::builder(), )*
                    len: 0,
                }
            }
            fn columns() -> Vec<$crate::schema::Column> {
                use $crate::schema::ColumnValue as _;
                vec![
                    $( $crate::schema::Column {
                        name: stringify!($kf),
                        ch_type: <$kt>::ch_type(),
                        arrow_type: <$kt>::arrow_type(),
                        nullable: <$kt>::nullable(),
                        ch_only: true,
                        doc: concat!($($kdoc),+),
                    }, )*
                    $( $crate::schema::Column {
                        name: stringify!($f),
                        ch_type: <$t>::ch_type(),
                        arrow_type: <$t>::arrow_type(),
                        nullable: <$t>::nullable(),
                        ch_only: false,
                        doc: concat!($($doc),+),
                    }, )*
                ]
            }
        }
    };
}

pub(crate) use table;
