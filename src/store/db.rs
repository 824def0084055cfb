//! The two database drivers behind one small API, so each query is written once.
//!
//! SQLite runs through `rusqlite` on the calling thread: its statements take microseconds,
//! and a driver with a thread of its own (sqlx's) spends more than that handing each one over
//! and back, in series behind every other caller. PostgreSQL runs through a `sqlx` pool. A
//! query binds [`Value`]s to its `$1`, `$2`… placeholders (both databases take that form) and
//! reads each [`Row`]'s cells by position, typed through [`FromCell`].

use std::borrow::Cow;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use sqlx::{Column, Row as _, TypeInfo};

use super::StoreError;

/// A value bound to a `$n` placeholder. Nulls carry their type: PostgreSQL wants one.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Int(i64),
    Int4(i32),
    Bool(bool),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
    NullInt,
    NullText,
    NullBlob,
}

impl From<i64> for Value<'_> {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<i32> for Value<'_> {
    fn from(value: i32) -> Self {
        Value::Int4(value)
    }
}

impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Value::Text(Cow::Borrowed(value))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(value: &'a String) -> Self {
        Value::Text(Cow::Borrowed(value))
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(value: &'a [u8]) -> Self {
        Value::Blob(Cow::Borrowed(value))
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(value: &'a Vec<u8>) -> Self {
        Value::Blob(Cow::Borrowed(value))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Value::NullInt, Value::Int)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Value::NullText, Value::from)
    }
}

impl<'a> From<Option<&'a [u8]>> for Value<'a> {
    fn from(value: Option<&'a [u8]>) -> Self {
        value.map_or(Value::NullBlob, Value::from)
    }
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Int4(v) => ValueRef::Integer(i64::from(*v)),
            Value::Bool(v) => ValueRef::Integer(i64::from(*v)),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
            Value::NullInt | Value::NullText | Value::NullBlob => ValueRef::Null,
        }))
    }
}

/// `&[Value]` from a list of anything a [`Value`] can be made from.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($value)),*]
    };
}
pub(crate) use args;

/// One cell of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Int(_) => "integer",
            Cell::Bool(_) => "boolean",
            Cell::Text(_) => "text",
            Cell::Blob(_) => "blob",
        }
    }
}

/// A Rust type a cell reads as.
pub(crate) trait FromCell: Sized {
    const EXPECTED: &'static str;
    fn from_cell(cell: Cell) -> Option<Self>;
}

impl FromCell for i64 {
    const EXPECTED: &'static str = "integer";
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Int(v) => Some(v),
            _ => None,
        }
    }
}

impl FromCell for i32 {
    const EXPECTED: &'static str = "32-bit integer";
    fn from_cell(cell: Cell) -> Option<Self> {
        i64::from_cell(cell).and_then(|v| i32::try_from(v).ok())
    }
}

impl FromCell for bool {
    const EXPECTED: &'static str = "boolean";
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Bool(v) => Some(v),
            // SQLite keeps booleans as 0 and 1.
            Cell::Int(v) => Some(v != 0),
            _ => None,
        }
    }
}

impl FromCell for String {
    const EXPECTED: &'static str = "text";
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Text(v) => Some(v),
            _ => None,
        }
    }
}

impl FromCell for Vec<u8> {
    const EXPECTED: &'static str = "blob";
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Blob(v) => Some(v),
            _ => None,
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_cell(cell: Cell) -> Option<Self> {
        match cell {
            Cell::Null => Some(None),
            cell => T::from_cell(cell).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(Vec<Cell>);

impl Row {
    /// The cell at `index` as a `T`; the cell is moved out (a second read of it finds null).
    pub fn take<T: FromCell>(&mut self, index: usize) -> Result<T, StoreError> {
        let Some(slot) = self.0.get_mut(index) else {
            return Err(StoreError::Decode {
                column: index,
                expected: T::EXPECTED,
                found: "no such column",
            });
        };
        let cell = std::mem::replace(slot, Cell::Null);
        let found = cell.kind();
        T::from_cell(cell).ok_or(StoreError::Decode { column: index, expected: T::EXPECTED, found })
    }
}

/// A whole row read as a tuple of [`FromCell`] types.
pub(crate) trait FromRow: Sized {
    fn from_row(row: Row) -> Result<Self, StoreError>;
}

macro_rules! tuple_from_row {
    ($($name:ident $index:tt),+) => {
        impl<$($name: FromCell),+> FromRow for ($($name,)+) {
            fn from_row(mut row: Row) -> Result<Self, StoreError> {
                Ok(($(row.take::<$name>($index)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

/// A connection of either database, to run queries on.
pub(crate) enum Db<'c> {
    Sqlite(&'c mut rusqlite::Connection),
    Postgres(&'c mut sqlx::PgConnection),
}

impl Db<'_> {
    /// Runs a statement that returns no rows; says how many rows it changed.
    pub async fn execute(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(connection) => {
                Ok(sqlite_prepare(connection, sql, args)?.raw_execute()? as u64)
            }
            Db::Postgres(connection) => {
                Ok(pg_query(sql, args).execute(&mut **connection).await?.rows_affected())
            }
        }
    }

    /// Runs a query and reads every row it returns.
    pub async fn fetch_all(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(connection) => sqlite_rows(connection, sql, args, usize::MAX),
            Db::Postgres(connection) => {
                pg_query(sql, args).fetch_all(&mut **connection).await?.iter().map(pg_row).collect()
            }
        }
    }

    /// Runs a query and reads its first row, if it returns one.
    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<Option<Row>, StoreError> {
        match self {
            Db::Sqlite(connection) => Ok(sqlite_rows(connection, sql, args, 1)?.pop()),
            Db::Postgres(connection) => pg_query(sql, args)
                .fetch_optional(&mut **connection)
                .await?
                .as_ref()
                .map(pg_row)
                .transpose(),
        }
    }

    /// Like [`Self::fetch_all`], each row read as the tuple `T`.
    pub async fn fetch_all_as<T: FromRow>(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<Vec<T>, StoreError> {
        self.fetch_all(sql, args).await?.into_iter().map(T::from_row).collect()
    }

    /// Like [`Self::fetch_optional`], the row read as the tuple `T`.
    pub async fn fetch_optional_as<T: FromRow>(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<Option<T>, StoreError> {
        self.fetch_optional(sql, args).await?.map(T::from_row).transpose()
    }

    /// The first cell of the one row a query returns (a `COUNT(*)`, a `RETURNING` value).
    pub async fn fetch_scalar<T: FromCell>(
        &mut self,
        sql: &str,
        args: &[Value<'_>],
    ) -> Result<T, StoreError> {
        match self.fetch_optional(sql, args).await? {
            Some(mut row) => row.take(0),
            None => Err(StoreError::Decode { column: 0, expected: T::EXPECTED, found: "no row" }),
        }
    }
}

/// Prepares (or takes from the connection's cache) a statement and binds `args` to it. A
/// placeholder `$n` is bound by its name: SQLite numbers named parameters in the order they
/// first appear, which need not be `n`.
fn sqlite_prepare<'c>(
    connection: &'c rusqlite::Connection,
    sql: &str,
    args: &[Value<'_>],
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index).unwrap_or_default();
        let value = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| args.get(n))
            .ok_or_else(|| StoreError::Placeholder(name.to_owned()))?;
        statement.raw_bind_parameter(index, value)?;
    }
    Ok(statement)
}

/// Up to `limit` rows of a query.
fn sqlite_rows(
    connection: &rusqlite::Connection,
    sql: &str,
    args: &[Value<'_>],
    limit: usize,
) -> Result<Vec<Row>, StoreError> {
    let mut statement = sqlite_prepare(connection, sql, args)?;
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut read = Vec::new();
    while read.len() < limit {
        let Some(row) = rows.next()? else { break };
        let mut cells = Vec::with_capacity(columns);
        for index in 0..columns {
            cells.push(match row.get_ref(index)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Int(v as i64),
                ValueRef::Text(v) => Cell::Text(String::from_utf8(v.to_vec()).map_err(|_| {
                    StoreError::Decode { column: index, expected: "text", found: "invalid UTF-8" }
                })?),
                ValueRef::Blob(v) => Cell::Blob(v.to_vec()),
            });
        }
        read.push(Row(cells));
    }
    Ok(read)
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn pg_query<'q>(sql: &'q str, args: &'q [Value<'_>]) -> PgQuery<'q> {
    let mut query = sqlx::query(sql);
    for value in args {
        query = match value {
            Value::Int(v) => query.bind(*v),
            Value::Int4(v) => query.bind(*v),
            Value::Bool(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.as_ref()),
            Value::Blob(v) => query.bind(v.as_ref()),
            Value::NullInt => query.bind(None::<i64>),
            Value::NullText => query.bind(None::<&str>),
            Value::NullBlob => query.bind(None::<&[u8]>),
        };
    }
    query
}

/// A PostgreSQL row as cells, each read by its column's type.
fn pg_row(row: &sqlx::postgres::PgRow) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let cell = match column.type_info().name() {
            "INT8" => row.try_get::<Option<i64>, _>(index)?.map(Cell::Int),
            "INT4" => row.try_get::<Option<i32>, _>(index)?.map(|v| Cell::Int(v.into())),
            "INT2" => row.try_get::<Option<i16>, _>(index)?.map(|v| Cell::Int(v.into())),
            "BOOL" => row.try_get::<Option<bool>, _>(index)?.map(Cell::Bool),
            "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(index)?.map(Cell::Blob),
            "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => {
                row.try_get::<Option<String>, _>(index)?.map(Cell::Text)
            }
            _ => {
                return Err(StoreError::Decode {
                    column: index,
                    expected: "a supported column type",
                    found: "another type",
                });
            }
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite() -> rusqlite::Connection {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (n INTEGER, s TEXT, b BLOB, f BOOLEAN)").unwrap();
        connection
    }

    #[tokio::test]
    async fn placeholders_bind_by_number_whatever_order_they_appear_in() {
        let mut connection = sqlite();
        let mut db = Db::Sqlite(&mut connection);
        // $2 comes first: SQLite would number it 1.
        let changed = db
            .execute("INSERT INTO t (s, n, f) VALUES ($2, $1, $3)", args![7_i64, "seven", true])
            .await
            .unwrap();
        assert_eq!(changed, 1);
        let row = db
            .fetch_optional_as::<(i64, String, Option<Vec<u8>>, bool)>(
                "SELECT n, s, b, f FROM t WHERE n = $1 AND s = $2",
                args![7_i64, "seven"],
            )
            .await
            .unwrap();
        assert_eq!(row, Some((7, "seven".to_owned(), None, true)));
    }

    #[tokio::test]
    async fn a_missing_value_or_a_wrong_type_is_an_error_not_a_panic() {
        let mut connection = sqlite();
        let mut db = Db::Sqlite(&mut connection);
        let missing = db.execute("INSERT INTO t (n) VALUES ($2)", args![1_i64]).await;
        assert!(matches!(missing, Err(StoreError::Placeholder(name)) if name == "$2"));
        db.execute("INSERT INTO t (n, s) VALUES ($1, $2)", args![1_i64, "x"]).await.unwrap();
        let wrong = db.fetch_all_as::<(String,)>("SELECT n FROM t", args![]).await;
        assert!(matches!(
            wrong,
            Err(StoreError::Decode { column: 0, expected: "text", found: "integer" })
        ));
        let absent = db.fetch_scalar::<i64>("SELECT n FROM t WHERE n = 2", args![]).await;
        assert!(matches!(absent, Err(StoreError::Decode { found: "no row", .. })));
    }

    #[tokio::test]
    async fn typed_nulls_and_options_round_trip() {
        let mut connection = sqlite();
        let mut db = Db::Sqlite(&mut connection);
        let none: Option<&str> = None;
        db.execute(
            "INSERT INTO t (n, s, b) VALUES ($1, $2, $3)",
            args![None::<i64>, none, Some(&b"\x00\xff"[..])],
        )
        .await
        .unwrap();
        let row = db
            .fetch_all_as::<(Option<i64>, Option<String>, Vec<u8>)>(
                "SELECT n, s, b FROM t",
                args![],
            )
            .await
            .unwrap();
        assert_eq!(row, vec![(None, None, vec![0, 255])]);
    }
}
