//! Size on disk of the tables a report reads, measured from the bench
//! process over its own read-only connection to the server's database.
//!
//! SQLite: the pages of the table and of its indexes in `dbstat` (the
//! bundled SQLite is built with `SQLITE_ENABLE_DBSTAT_VTAB`); where the
//! virtual table is missing, no per-table size, only the file's (database
//! plus WAL). PostgreSQL: `pg_total_relation_size` (heap, indexes, TOAST).
//! Both count rows with `COUNT(*)`. A table the schema lacks (the rollups
//! on a branch without them) is reported absent, not as an error.

use std::path::PathBuf;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

/// The tables measured: the rollups of issue 12 and, for comparison, the
/// row-level tables they summarise.
pub const TABLES: [&str; 6] = [
    "rollup_touches",
    "rollup_credits",
    "visitor_ids",
    "touchpoints",
    "credits",
    "pageviews",
];

/// One table's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    pub table: String,
    /// False when the schema has no such table.
    pub present: bool,
    /// Bytes of the table and its indexes; `None` when absent or when the
    /// engine cannot tell per table (SQLite without `dbstat`).
    pub bytes: Option<u64>,
    pub rows: Option<u64>,
}

/// The sizes of [`TABLES`] and how they were measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes {
    /// `"dbstat"`, `"file size"` (SQLite without `dbstat`) or
    /// `"pg_total_relation_size"`.
    pub method: &'static str,
    /// SQLite: the database file plus its WAL.
    pub file_bytes: Option<u64>,
    pub tables: Vec<TableSize>,
}

/// The URL and file of a SQLite database URL (`sqlite://path?mode=rwc`),
/// reopened read-only.
fn sqlite_read_only(url: &str) -> (String, PathBuf) {
    let base = url.split('?').next().unwrap_or(url);
    let path = base
        .strip_prefix("sqlite://")
        .or_else(|| base.strip_prefix("sqlite:"))
        .unwrap_or(base);
    (format!("{base}?mode=ro"), PathBuf::from(path))
}

async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options)
        .await
        .with_context(|| format!("Failed to open {} to measure it", crate::store::redact(url)))
}

async fn scalar(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> anyhow::Result<Option<i64>> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<i64>>(0)?,
        None => None,
    })
}

/// Measures [`TABLES`] in the database at `database_url`.
pub async fn measure(database_url: &str) -> anyhow::Result<Sizes> {
    if database_url.starts_with("sqlite:") {
        let (url, path) = sqlite_read_only(database_url);
        let db = connect(&url).await?;
        let file_bytes = [
            path.clone(),
            PathBuf::from(format!("{}-wal", path.display())),
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum::<u64>();
        let has_dbstat = scalar(
            &db,
            "SELECT COUNT(*) FROM dbstat WHERE name = 'sqlite_master'",
            vec![],
        )
        .await
        .is_ok();
        let mut tables = Vec::new();
        for table in TABLES {
            let present = scalar(
                &db,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                vec![table.into()],
            )
            .await?
                == Some(1);
            let (bytes, rows) = if present {
                let bytes = if has_dbstat {
                    // The table's b-tree and those of its indexes, as
                    // PostgreSQL's total relation size counts them; one
                    // b-tree per statement, so `dbstat` walks only that one.
                    let mut trees = vec![table.to_owned()];
                    let indexes = db
                        .query_all(Statement::from_sql_and_values(
                            DbBackend::Sqlite,
                            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                            [table.into()],
                        ))
                        .await?;
                    for row in indexes {
                        trees.push(row.try_get_by_index::<String>(0)?);
                    }
                    let mut total = 0;
                    for tree in trees {
                        total += scalar(
                            &db,
                            "SELECT SUM(pgsize) FROM dbstat WHERE name = ?",
                            vec![tree.into()],
                        )
                        .await?
                        .unwrap_or(0);
                    }
                    Some(total)
                } else {
                    None
                };
                let rows =
                    scalar(&db, &format!("SELECT COUNT(*) FROM \"{table}\""), vec![]).await?;
                (bytes, rows)
            } else {
                (None, None)
            };
            tables.push(TableSize {
                table: table.to_owned(),
                present,
                bytes: bytes.map(|b| b.max(0) as u64),
                rows: rows.map(|r| r.max(0) as u64),
            });
        }
        db.close().await.ok();
        return Ok(Sizes {
            method: if has_dbstat { "dbstat" } else { "file size" },
            file_bytes: Some(file_bytes),
            tables,
        });
    }
    let db = connect(database_url).await?;
    anyhow::ensure!(
        db.get_database_backend() == DbBackend::Postgres,
        "cannot measure table sizes in {}",
        crate::store::redact(database_url)
    );
    // The bench only looks: the session refuses writes.
    db.execute_unprepared("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .await?;
    let mut tables = Vec::new();
    for table in TABLES {
        // `to_regclass` is NULL for a missing table, so absence is no error.
        let bytes = scalar(
            &db,
            "SELECT pg_total_relation_size(to_regclass($1))::bigint",
            vec![table.into()],
        )
        .await?;
        let rows = match bytes {
            Some(_) => scalar(&db, &format!("SELECT COUNT(*) FROM \"{table}\""), vec![]).await?,
            None => None,
        };
        tables.push(TableSize {
            table: table.to_owned(),
            present: bytes.is_some(),
            bytes: bytes.map(|b| b.max(0) as u64),
            rows: rows.map(|r| r.max(0) as u64),
        });
    }
    db.close().await.ok();
    Ok(Sizes {
        method: "pg_total_relation_size",
        file_bytes: None,
        tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_is_reopened_read_only_on_the_same_file() {
        assert_eq!(
            sqlite_read_only("sqlite:///tmp/x/bench.db?mode=rwc"),
            (
                "sqlite:///tmp/x/bench.db?mode=ro".to_owned(),
                PathBuf::from("/tmp/x/bench.db")
            )
        );
        assert_eq!(
            sqlite_read_only("sqlite:data.db"),
            (
                "sqlite:data.db?mode=ro".to_owned(),
                PathBuf::from("data.db")
            )
        );
    }
}
