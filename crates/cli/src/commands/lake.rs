//! `abforge lake tables|history|query|vacuum|optimize`: the lakehouse's Delta tables, on the
//! object store the pipeline's settings name (the same flags, variables and abforge.toml).

use super::pipeline::{runtime, settings};
use crate::BadInput;
use crate::cli::{Backends, LakeCommand};
use crate::format;
use abforge_lake::arrow::array::RecordBatch;
use abforge_lake::{Lake, Table};
use abforge_store::ObjectStoreConfig;
use serde::Serialize;
use std::io::Write;

/// Runs `abforge lake …`.
pub fn run(cmd: LakeCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        LakeCommand::Tables { json, backends } => tables(&mut out, &open(&backends)?, json),
        LakeCommand::History {
            table,
            limit,
            json,
            backends,
        } => history(&mut out, &open(&backends)?, table, limit, json),
        LakeCommand::Query {
            sql,
            version,
            json,
            backends,
        } => query(&mut out, &open(&backends)?, &sql, version, json),
        LakeCommand::Vacuum {
            retention_hours,
            dry_run,
            json,
            backends,
        } => vacuum(&mut out, &open(&backends)?, retention_hours, dry_run, json),
        LakeCommand::Optimize { json, backends } => optimize(&mut out, &open(&backends)?, json),
    }
}

/// `lake tables`: each table's version, files, partitioning, protocol and URL.
fn tables(out: &mut impl Write, lake: &Lake, json: bool) -> anyhow::Result<()> {
    let tables = runtime()?.block_on(lake.tables()).map_err(lake_error)?;
    if json {
        return format::json(out, &tables);
    }
    writeln!(
        out,
        "{:<18}  {:>7}  {:>5}  {:<24}  {:<8}  url",
        "table", "version", "files", "partitioned by", "protocol"
    )?;
    for t in &tables {
        let protocol = match (t.min_reader_version, t.min_writer_version) {
            (Some(r), Some(w)) => format!("{r}/{w}"),
            _ => "—".into(),
        };
        writeln!(
            out,
            "{:<18}  {:>7}  {:>5}  {:<24}  {:<8}  {}",
            t.table.name(),
            t.version.map_or_else(|| "—".into(), |v| v.to_string()),
            t.files.map_or_else(|| "—".into(), |v| v.to_string()),
            t.partition_columns.join(", "),
            protocol,
            t.url
        )?;
    }
    if tables.iter().all(|t| t.version.is_none()) {
        writeln!(
            out,
            "\nno table has been written yet; `abforge pipeline run` writes them all"
        )?;
    }
    Ok(())
}

/// `lake history TABLE`: its commits, newest first, with the run and step of each.
fn history(
    out: &mut impl Write,
    lake: &Lake,
    table: Table,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let commits = runtime()?
        .block_on(lake.history(table, Some(limit as usize)))
        .map_err(lake_error)?;
    if json {
        return format::json(out, &commits);
    }
    writeln!(
        out,
        "{:>7}  {:<19}  {:<14}  {:<7}  {:<28}  {:>10}  blueprint sha256",
        "version", "time (UTC)", "operation", "step", "run", "rows added"
    )?;
    for c in &commits {
        let time = c
            .timestamp
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or_else(|| "—".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
        let rows = c
            .metrics
            .get("num_added_rows")
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| "—".into(), |n| n.to_string());
        writeln!(
            out,
            "{:>7}  {time:<19}  {:<14}  {:<7}  {:<28}  {rows:>10}  {}",
            c.version,
            c.operation.as_deref().unwrap_or("—"),
            c.step.as_deref().unwrap_or("—"),
            c.run_id.as_deref().unwrap_or("—"),
            c.blueprint_hash.as_deref().unwrap_or("—"),
        )?;
    }
    Ok(())
}

/// `lake query SQL`: the rows as a table and their count, or as JSON objects.
fn query(
    out: &mut impl Write,
    lake: &Lake,
    sql: &str,
    version: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    let batches = runtime()?
        .block_on(lake.query(sql, version))
        .map_err(lake_error)?;
    if json {
        return write_json(out, &batches);
    }
    let table = abforge_lake::arrow::util::pretty::pretty_format_batches(&batches)?;
    writeln!(out, "{table}")?;
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    writeln!(out, "{n} row{}", if n == 1 { "" } else { "s" })?;
    Ok(())
}

/// `lake vacuum`: the data files no version of the retention period uses, deleted.
fn vacuum(
    out: &mut impl Write,
    lake: &Lake,
    retention_hours: u32,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let retention = chrono::Duration::hours(i64::from(retention_hours));
    let done = runtime()?
        .block_on(lake.vacuum(retention, dry_run))
        .map_err(lake_error)?;
    #[derive(Serialize)]
    struct Vacuumed {
        table: Table,
        files_deleted: usize,
        dry_run: bool,
    }
    let rows: Vec<Vacuumed> = done
        .into_iter()
        .map(|(table, files_deleted)| Vacuumed {
            table,
            files_deleted,
            dry_run,
        })
        .collect();
    if json {
        return format::json(out, &rows);
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for r in &rows {
        writeln!(
            out,
            "{:<18}  {verb} {} file{} unused for {retention_hours} h",
            r.table.name(),
            r.files_deleted,
            if r.files_deleted == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

/// `lake optimize`: each table's small files compacted.
fn optimize(out: &mut impl Write, lake: &Lake, json: bool) -> anyhow::Result<()> {
    let done = runtime()?.block_on(lake.optimize()).map_err(lake_error)?;
    #[derive(Serialize)]
    struct Optimized {
        table: Table,
        files_removed: u64,
        files_added: u64,
    }
    let rows: Vec<Optimized> = done
        .into_iter()
        .map(|(table, files_removed, files_added)| Optimized {
            table,
            files_removed,
            files_added,
        })
        .collect();
    if json {
        return format::json(out, &rows);
    }
    for r in &rows {
        writeln!(
            out,
            "{:<18}  compacted {} file{} into {}",
            r.table.name(),
            r.files_removed,
            if r.files_removed == 1 { "" } else { "s" },
            r.files_added
        )?;
    }
    Ok(())
}

/// The lake in the object store the settings name (nothing else is opened).
pub fn open(b: &Backends) -> anyhow::Result<Lake> {
    let s = settings(b, None, None)?;
    let mut cfg = ObjectStoreConfig::from_env().with_data_dir(&s.data_dir);
    if let Some(url) = &s.object_store_url {
        cfg = cfg.with_url(url);
    }
    let objects = cfg.build().map_err(|e| BadInput(e.to_string()))?;
    Lake::new(&objects).map_err(|e| BadInput(e.to_string()).into())
}

/// The lake's usage errors exit with 2, the rest with 1.
pub fn lake_error(e: abforge_lake::Error) -> anyhow::Error {
    if e.is_usage() {
        BadInput(abforge_pipeline::error_chain(&e)).into()
    } else {
        anyhow::Error::new(e)
    }
}

/// The rows as a JSON array of objects (NULLs kept as null).
fn write_json(out: &mut impl Write, batches: &[RecordBatch]) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    {
        let mut w = abforge_lake::arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, abforge_lake::arrow::json::writer::JsonArray>(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    if buf.is_empty() {
        buf.extend_from_slice(b"[]");
    }
    out.write_all(&buf)?;
    writeln!(out)?;
    Ok(())
}
