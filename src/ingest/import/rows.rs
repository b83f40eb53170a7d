//! The IO-free core of `import`: file rows → raw webhook payloads, each with
//! its file line and, if it would be refused, why.
//!
//! Every row is validated by the webhooks' own rules (`NewPageview::try_from`,
//! `NewEvent::try_from`, and for NDJSON the field typing of `ingest::json`),
//! so a file row is accepted exactly when the same payload sent as a webhook
//! would be. Readers are generic over `Read` and hold one row at a time: the
//! caller decides where the bytes come from (a file, a test's byte string) and
//! memory stays flat whatever the file's size.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;
use csv::ByteRecord;
use serde_json::{Map, Value};

use crate::domain::{FieldError, NewEvent, NewPageview, RawEvent, RawPageview};
use crate::ingest::json;

/// The pseudo-field of an error about a whole row rather than one of its
/// fields: a line that is not JSON, a CSV row with the wrong number of cells.
pub const ROW: &str = "(row)";

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// Comma-separated values with a header row of webhook field names.
    Csv,
    /// One JSON object per line (also called JSON Lines).
    Ndjson,
}

impl ImportFormat {
    /// The format a file's extension names: `.csv`, or `.ndjson`/`.jsonl`/`.json`.
    /// The error says how to name the format explicitly instead.
    pub fn detect(path: &Path) -> Result<Self, String> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("ndjson" | "jsonl" | "json") => Ok(Self::Ndjson),
            _ => Err(format!(
                "cannot tell the format of {} from its extension (.csv, .ndjson, .jsonl or .json); \
                 pass --format csv or --format ndjson",
                path.display()
            )),
        }
    }
}

/// Why one row of a file was refused: its line (1-based; a CSV header is
/// line 1), the field (or [`ROW`]) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// The webhook field name, or [`ROW`] for the row as a whole.
    pub field: &'static str,
    /// Why, phrased to follow the field name ("is required").
    pub message: String,
}

impl RowError {
    pub(crate) fn new(line: u64, error: FieldError) -> Self {
        Self {
            line,
            field: error.field,
            message: error.message,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {}", self.line, self.field, self.message)
    }
}

/// Lists the first `max` errors, one per line and indented, then how many
/// invalid rows the list leaves out. `rejected` counts rows, `errors` fields.
pub fn format_errors(errors: &[RowError], rejected: u64, max: usize) -> String {
    let shown = &errors[..errors.len().min(max)];
    let mut out = String::new();
    let mut rows_shown = 0u64;
    let mut last_line = None;
    for error in shown {
        if last_line != Some(error.line) {
            rows_shown += 1;
            last_line = Some(error.line);
        }
        out.push_str(&format!("  {error}\n"));
    }
    // The row cut off mid-way by `max` is counted as shown: part of it is.
    let more = rejected.saturating_sub(rows_shown);
    if more > 0 {
        out.push_str(&format!("  … and {more} more invalid rows\n"));
    }
    out
}

/// A webhook payload a file row can become.
pub(crate) trait Row: Clone + Send + 'static {
    /// What the file holds, plural, for messages.
    const NAME: &'static str;
    /// The webhook fields and whether each is required (a CSV header must name
    /// the required ones).
    const FIELDS: &'static [(&'static str, bool)];
    /// Builds a payload from CSV cells; `cell` gives `None` for an absent
    /// column or an empty cell.
    fn from_cells(cell: impl FnMut(&'static str) -> Option<String>) -> Self;
    /// Builds a payload from a JSON object, with the fields of the wrong type.
    fn from_json(map: &Map<String, Value>) -> (Self, Vec<FieldError>);
    /// The webhook's validation: no errors means the ingestion path accepts it.
    fn validate(&self) -> Vec<FieldError>;
}

impl Row for RawPageview {
    const NAME: &'static str = "pageviews";
    const FIELDS: &'static [(&'static str, bool)] = &[
        ("fingerprint", true),
        ("user_id", false),
        ("url", true),
        ("referrer_url", false),
        ("created_at", true),
    ];

    fn from_cells(mut cell: impl FnMut(&'static str) -> Option<String>) -> Self {
        Self {
            fingerprint: cell("fingerprint"),
            user_id: cell("user_id"),
            url: cell("url"),
            referrer_url: cell("referrer_url"),
            created_at: cell("created_at"),
        }
    }

    fn from_json(map: &Map<String, Value>) -> (Self, Vec<FieldError>) {
        json::pageview_from_map(map)
    }

    fn validate(&self) -> Vec<FieldError> {
        NewPageview::try_from(self.clone())
            .err()
            .unwrap_or_default()
    }
}

impl Row for RawEvent {
    const NAME: &'static str = "events";
    const FIELDS: &'static [(&'static str, bool)] = &[
        ("name", true),
        ("fingerprint", true),
        ("user_id", false),
        ("created_at", true),
        ("revenue", false),
        ("currency", false),
    ];

    fn from_cells(mut cell: impl FnMut(&'static str) -> Option<String>) -> Self {
        Self {
            name: cell("name"),
            fingerprint: cell("fingerprint"),
            user_id: cell("user_id"),
            created_at: cell("created_at"),
            revenue: cell("revenue"),
            currency: cell("currency"),
        }
    }

    fn from_json(map: &Map<String, Value>) -> (Self, Vec<FieldError>) {
        json::event_from_map(map)
    }

    fn validate(&self) -> Vec<FieldError> {
        NewEvent::try_from(self.clone()).err().unwrap_or_default()
    }
}

/// Type errors first, as the webhooks do: a field of the wrong type was
/// dropped, so validating it again would only add "is required".
fn checked<R: Row>(raw: R, type_errors: Vec<FieldError>) -> Result<R, Vec<FieldError>> {
    if !type_errors.is_empty() {
        return Err(type_errors);
    }
    let errors = raw.validate();
    if errors.is_empty() {
        Ok(raw)
    } else {
        Err(errors)
    }
}

/// One data row: where it starts in the file, and the payload or its errors.
#[derive(Debug)]
pub(crate) struct Parsed<R> {
    pub line: u64,
    pub row: Result<R, Vec<FieldError>>,
}

/// The rows of a file, in order. An `Err` item is a read failure (IO), after
/// which the iterator ends; invalid rows are `Ok` items with errors.
pub(crate) enum Rows<R, In: Read> {
    Csv(CsvRows<R, In>),
    Ndjson(NdjsonRows<R, In>),
}

/// Starts reading `input` as `format`. Fails at once if a CSV header lacks a
/// required column: every row would be refused for the same reason.
pub(crate) fn rows<R: Row, In: Read>(
    format: ImportFormat,
    input: In,
) -> anyhow::Result<Rows<R, In>> {
    Ok(match format {
        ImportFormat::Csv => Rows::Csv(CsvRows::new(input)?),
        ImportFormat::Ndjson => Rows::Ndjson(NdjsonRows {
            input: BufReader::new(input),
            line: 0,
            buf: Vec::new(),
            done: false,
            row: PhantomData,
        }),
    })
}

impl<R: Row, In: Read> Iterator for Rows<R, In> {
    type Item = anyhow::Result<Parsed<R>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Rows::Csv(rows) => rows.next_row(),
            Rows::Ndjson(rows) => rows.next_row(),
        }
    }
}

/// CSV rows. The `csv` crate handles quoting (a quoted cell may span lines:
/// the row's line is where it starts), a UTF-8 BOM and blank lines.
pub(crate) struct CsvRows<R, In: Read> {
    reader: csv::Reader<In>,
    /// Webhook field → its column.
    columns: Vec<(&'static str, usize)>,
    width: usize,
    record: ByteRecord,
    done: bool,
    row: PhantomData<fn() -> R>,
}

impl<R: Row, In: Read> CsvRows<R, In> {
    fn new(input: In) -> anyhow::Result<Self> {
        // Flexible, so that a short or long row is one invalid row with its
        // line number rather than a read error that ends the file.
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(input);
        let header = reader
            .byte_headers()
            .context("Failed to read the CSV header (line 1)")?
            .clone();
        let mut columns: Vec<(&'static str, usize)> = Vec::new();
        for (index, name) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let name = name.trim();
            // Unknown columns are ignored (exports carry extra ones); the
            // first of two columns with one name wins.
            if let Some(&(field, _)) = R::FIELDS.iter().find(|(f, _)| *f == name) {
                if !columns.iter().any(|(f, _)| *f == field) {
                    columns.push((field, index));
                }
            }
        }
        let missing: Vec<&str> = R::FIELDS
            .iter()
            .filter(|(f, required)| *required && !columns.iter().any(|(c, _)| c == f))
            .map(|(f, _)| *f)
            .collect();
        if !missing.is_empty() {
            let all: Vec<&str> = R::FIELDS.iter().map(|(f, _)| *f).collect();
            anyhow::bail!(
                "the CSV header (line 1) lacks the column(s) {}; a {} file's header names {}",
                missing.join(", "),
                R::NAME,
                all.join(", ")
            );
        }
        Ok(Self {
            reader,
            columns,
            width: header.len(),
            record: ByteRecord::new(),
            done: false,
            row: PhantomData,
        })
    }

    fn next_row(&mut self) -> Option<anyhow::Result<Parsed<R>>> {
        if self.done {
            return None;
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                self.done = true;
                return Some(Err(
                    anyhow::Error::new(e).context("Failed to read a CSV row")
                ));
            }
        }
        let line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.width {
            let error = FieldError::new(
                ROW,
                format!(
                    "has {} cells, but the header has {}",
                    self.record.len(),
                    self.width
                ),
            );
            return Some(Ok(Parsed {
                line,
                row: Err(vec![error]),
            }));
        }
        let mut type_errors = Vec::new();
        let (columns, record) = (&self.columns, &self.record);
        let raw = R::from_cells(|field| {
            let index = columns.iter().find(|(f, _)| *f == field)?.1;
            let cell = record.get(index).filter(|c| !c.is_empty())?;
            match std::str::from_utf8(cell) {
                Ok(text) => Some(text.to_owned()),
                Err(_) => {
                    type_errors.push(FieldError::new(field, "is not valid UTF-8"));
                    None
                }
            }
        });
        Some(Ok(Parsed {
            line,
            row: checked(raw, type_errors),
        }))
    }
}

/// NDJSON rows: one object per line; blank lines are skipped but counted, so
/// line numbers match an editor's.
pub(crate) struct NdjsonRows<R, In: Read> {
    input: BufReader<In>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    row: PhantomData<fn() -> R>,
}

impl<R: Row, In: Read> NdjsonRows<R, In> {
    fn next_row(&mut self) -> Option<anyhow::Result<Parsed<R>>> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            // Bytes, not `read_line`: invalid UTF-8 is then one bad row that
            // serde_json reports, not a read error that ends the file.
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => {
                    self.done = true;
                    let line = self.line + 1;
                    return Some(Err(
                        anyhow::Error::new(e).context(format!("Failed to read line {line}"))
                    ));
                }
            }
            let mut text = self.buf.as_slice();
            if self.line == 1 {
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let row = match serde_json::from_slice::<Value>(text) {
                Ok(Value::Object(map)) => {
                    let (raw, type_errors) = R::from_json(&map);
                    checked(raw, type_errors)
                }
                Ok(other) => Err(vec![FieldError::new(
                    ROW,
                    format!("must be a JSON object, not {}", json::kind(&other)),
                )]),
                Err(e) => Err(vec![FieldError::new(
                    ROW,
                    format!("is not valid JSON: {e}"),
                )]),
            };
            return Some(Ok(Parsed {
                line: self.line,
                row,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<R: Row>(format: ImportFormat, text: &str) -> Vec<Parsed<R>> {
        rows::<R, _>(format, text.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn errors<R: Row>(parsed: &[Parsed<R>]) -> Vec<(u64, &'static str)> {
        parsed
            .iter()
            .filter_map(|p| p.row.as_ref().err().map(|e| (p.line, e)))
            .flat_map(|(line, errs)| errs.iter().map(move |e| (line, e.field)))
            .collect()
    }

    const AT: &str = "2000-05-04 02:18:11.106928 UTC";

    #[test]
    fn the_format_follows_the_extension_whatever_its_case() {
        let detect = |p: &str| ImportFormat::detect(Path::new(p));
        assert_eq!(detect("a/b.csv"), Ok(ImportFormat::Csv));
        assert_eq!(detect("b.CSV"), Ok(ImportFormat::Csv));
        assert_eq!(detect("b.ndjson"), Ok(ImportFormat::Ndjson));
        assert_eq!(detect("b.jsonl"), Ok(ImportFormat::Ndjson));
        assert_eq!(detect("b.json"), Ok(ImportFormat::Ndjson));
    }

    #[test]
    fn an_unknown_extension_is_refused_with_the_override_to_use() {
        for path in ["export.txt", "export"] {
            let err = ImportFormat::detect(Path::new(path)).unwrap_err();
            assert!(err.contains("--format"), "{err}");
        }
    }

    #[test]
    fn csv_columns_may_come_in_any_order_with_unknown_ones_ignored() {
        let text = format!("created_at,plan,fingerprint,name\n{AT},pro,fp-1,Signup\n");
        let parsed = read::<RawEvent>(ImportFormat::Csv, &text);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].line, 2);
        let raw = parsed[0].row.as_ref().unwrap();
        assert_eq!(raw.name.as_deref(), Some("Signup"));
        assert_eq!(raw.fingerprint.as_deref(), Some("fp-1"));
        assert_eq!(raw.created_at.as_deref(), Some(AT));
        assert_eq!(raw.user_id, None, "an absent optional column is null");
    }

    #[test]
    fn an_empty_csv_cell_is_null() {
        let text = format!(
            "fingerprint,user_id,url,referrer_url,created_at\nfp,,https://a.example/,,{AT}\nfp,,https://a.example/,,\n"
        );
        let parsed = read::<RawPageview>(ImportFormat::Csv, &text);
        let raw = parsed[0].row.as_ref().unwrap();
        assert_eq!(
            (raw.user_id.as_ref(), raw.referrer_url.as_ref()),
            (None, None)
        );
        let errs = parsed[1].row.as_ref().unwrap_err();
        assert_eq!(errs[0].field, "created_at");
        assert_eq!(errs[0].message, "is required");
    }

    #[test]
    fn csv_errors_name_the_file_line_counting_the_header_as_line_one() {
        let text = format!(
            "name,fingerprint,user_id,created_at\nsignup,fp,u,{AT}\nsignup,,u,yesterday\nsignup,fp,u,{AT}\n"
        );
        let parsed = read::<RawEvent>(ImportFormat::Csv, &text);
        assert_eq!(errors(&parsed), [(3, "fingerprint"), (3, "created_at")]);
    }

    #[test]
    fn a_quoted_cell_spanning_lines_keeps_the_line_numbers_of_later_rows_right() {
        let text = format!(
            "name,fingerprint,user_id,created_at,note\nsignup,fp,u,{AT},\"two\nlines\"\nsignup,fp,u,never,\n"
        );
        let parsed = read::<RawEvent>(ImportFormat::Csv, &text);
        assert_eq!(errors(&parsed), [(4, "created_at")]);
    }

    #[test]
    fn a_csv_row_with_the_wrong_number_of_cells_is_one_invalid_row() {
        let text = format!("name,fingerprint,created_at\nsignup,fp\nsignup,fp,{AT}\n");
        let parsed = read::<RawEvent>(ImportFormat::Csv, &text);
        assert_eq!(errors(&parsed), [(2, ROW)]);
        assert!(parsed[1].row.is_ok());
    }

    #[test]
    fn a_csv_header_without_a_required_column_refuses_the_file() {
        let err = match rows::<RawPageview, _>(
            ImportFormat::Csv,
            "fingerprint,created_at\n".as_bytes(),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a header without url was accepted"),
        };
        assert!(err.contains("url"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_utf8_bom_before_the_csv_header_is_ignored() {
        let text = format!("\u{feff}name,fingerprint,created_at\nsignup,fp,{AT}\n");
        assert!(read::<RawEvent>(ImportFormat::Csv, &text)[0].row.is_ok());
    }

    #[test]
    fn ndjson_skips_blank_lines_but_counts_them() {
        let text = format!(
            "{{\"name\":\"signup\",\"fingerprint\":\"fp\",\"created_at\":\"{AT}\"}}\n\n  \r\n{{\"name\":\"signup\",\"fingerprint\":42,\"created_at\":5}}\r\n"
        );
        let parsed = read::<RawEvent>(ImportFormat::Ndjson, &text);
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].row.is_ok());
        assert_eq!(
            parsed[1].row.as_ref().err().map(|e| e.len()),
            Some(1),
            "numeric fingerprints are ids, as in the webhooks"
        );
        assert_eq!(errors(&parsed), [(4, "created_at")]);
    }

    #[test]
    fn ndjson_lines_that_are_not_objects_are_row_errors() {
        let text = "[1]\n{\"name\":\n\u{00ff}\n";
        let parsed = read::<RawEvent>(ImportFormat::Ndjson, text);
        assert_eq!(errors(&parsed), [(1, ROW), (2, ROW), (3, ROW)]);
        let first = &parsed[0].row.as_ref().unwrap_err()[0].message;
        assert!(first.contains("an array"), "{first}");
    }

    #[test]
    fn a_row_error_reads_as_line_field_reason() {
        let error = RowError::new(7, FieldError::new("url", "is required"));
        assert_eq!(error.to_string(), "line 7: url is required");
    }

    #[test]
    fn the_error_list_is_capped_and_counts_the_invalid_rows_left_out() {
        let errors: Vec<RowError> = (2..=6)
            .flat_map(|line| {
                [
                    RowError::new(line, FieldError::new("url", "is required")),
                    RowError::new(line, FieldError::new("created_at", "is required")),
                ]
            })
            .collect();
        let text = format_errors(&errors, 40, 4);
        assert_eq!(
            text,
            "  line 2: url is required\n  line 2: created_at is required\n  \
             line 3: url is required\n  line 3: created_at is required\n  \
             … and 38 more invalid rows\n"
        );
        assert_eq!(format_errors(&errors[..2], 1, 20).lines().count(), 2);
    }
}
