//! What one GraphQL request may cost, measured before anything expands it.
//!
//! A document can spread a fragment that spreads another ten times, and so
//! on: 900 bytes name 10^10 fields. async-graphql's own checks (recursion
//! depth, depth, complexity, field merging) walk the document with every
//! spread inlined, so on such a document they never finish, and they run
//! before any limit of theirs can refuse it. This module measures the
//! document without inlining anything: each fragment is summarised once
//! (its expanded field count, its depth, the report fields at its top
//! level) and a spread adds its fragment's summary, so the cost of the
//! analysis is linear in the document's size. A document over a limit is
//! refused before async-graphql sees it; one under the limits is small
//! enough, expanded, for every later check to be cheap.
//!
//! The depth limit leaves introspection (`__schema`, `__type`) out: the
//! standard introspection queries of graphql-js and graphql-core nest 15–16
//! levels through `ofType`, and their size is bounded by the node limit
//! anyway. Depth means nested fields: `{ a { b } }` has depth 2.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Positioned, Request, Response, ServerError, ServerResult, ValidationResult};

/// The limits a document is measured against.
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    /// Most fields, with every fragment spread expanded.
    pub max_nodes: u64,
    /// Deepest field nesting outside introspection.
    pub max_depth: u32,
    /// Most report fields (see [`super::reports::REPORT_FIELDS`]) at the top
    /// of one operation: each one reads and folds a range of derived rows.
    pub max_reports: u64,
}

/// A document's measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentCost {
    /// Fields with every spread expanded, over all operations (validation
    /// walks them all, whichever one executes).
    pub nodes: u64,
    /// The deepest operation's depth, introspection left out.
    pub depth: u32,
    /// The most report fields any one operation selects at its top.
    pub reports: u64,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the query selects {nodes} fields once its fragments are expanded; the limit is {max} (MAX_QUERY_NODES)")]
    TooManyNodes { nodes: u64, max: u64 },
    #[error("the query is {depth} fields deep; the limit is {max} (MAX_QUERY_DEPTH; introspection is not counted)")]
    TooDeep { depth: u32, max: u32 },
    #[error("the query asks for {reports} reports in one operation; the limit is {max} (MAX_REPORT_FIELDS): send them in several requests")]
    TooManyReports { reports: u64, max: u64 },
    #[error("fragment `{0}` spreads itself (directly or through other fragments)")]
    FragmentCycle(String),
}

/// One selection set's measure; a fragment's is computed once.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    nodes: u64,
    depth: u32,
    /// Report fields at this selection set's own level (through spreads and
    /// inline fragments): they count only where the set is an operation's.
    top_reports: u64,
}

enum Memo {
    InProgress,
    Done(Summary),
}

struct Measure<'a> {
    doc: &'a ExecutableDocument,
    reports: &'a [&'a str],
    fragments: HashMap<&'a str, Memo>,
}

impl<'a> Measure<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Summary, LimitError> {
        let mut out = Summary::default();
        for item in &set.node.items {
            let (inner, top_reports) = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let sub = self.selection_set(&field.node.selection_set)?;
                    let introspection = name == "__schema" || name == "__type";
                    let depth = if introspection { 0 } else { 1 + sub.depth };
                    let nodes = sub.nodes.saturating_add(1);
                    let report = u64::from(self.reports.contains(&name));
                    (
                        Summary {
                            nodes,
                            depth,
                            top_reports: 0,
                        },
                        report,
                    )
                }
                Selection::InlineFragment(inline) => {
                    let sub = self.selection_set(&inline.node.selection_set)?;
                    (sub, sub.top_reports)
                }
                Selection::FragmentSpread(spread) => {
                    let sub = self.fragment(spread.node.fragment_name.node.as_str())?;
                    (sub, sub.top_reports)
                }
            };
            out.nodes = out.nodes.saturating_add(inner.nodes);
            out.depth = out.depth.max(inner.depth);
            out.top_reports = out.top_reports.saturating_add(top_reports);
        }
        Ok(out)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Summary, LimitError> {
        match self.fragments.get(name) {
            Some(Memo::Done(summary)) => return Ok(*summary),
            Some(Memo::InProgress) => return Err(LimitError::FragmentCycle(name.to_owned())),
            None => {}
        }
        // An unknown fragment costs nothing here; validation refuses it.
        let Some(definition) = self.doc.fragments.get(name) else {
            return Ok(Summary::default());
        };
        self.fragments.insert(name, Memo::InProgress);
        let summary = self.selection_set(&definition.node.selection_set)?;
        self.fragments.insert(name, Memo::Done(summary));
        Ok(summary)
    }
}

/// Measures `doc` in time linear in its size, whatever its fragments expand to.
/// `reports` names the fields that count as reports at an operation's top.
pub fn measure(doc: &ExecutableDocument, reports: &[&str]) -> Result<DocumentCost, LimitError> {
    let mut m = Measure {
        doc,
        reports,
        fragments: HashMap::new(),
    };
    let mut cost = DocumentCost::default();
    let operations: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    for op in operations {
        let s = m.selection_set(&op.node.selection_set)?;
        cost.nodes = cost.nodes.saturating_add(s.nodes);
        cost.depth = cost.depth.max(s.depth);
        cost.reports = cost.reports.max(s.top_reports);
    }
    // Fragments that no operation spreads are still walked by validation.
    let names: Vec<&str> = doc.fragments.keys().map(|n| n.as_str()).collect();
    for name in names {
        if !m.fragments.contains_key(name) {
            let s = m.fragment(name)?;
            cost.nodes = cost.nodes.saturating_add(s.nodes);
        }
    }
    Ok(cost)
}

/// Measures `doc` and checks it against `limits`.
pub fn check(
    doc: &ExecutableDocument,
    reports: &[&str],
    limits: DocumentLimits,
) -> Result<DocumentCost, LimitError> {
    let cost = measure(doc, reports)?;
    if cost.nodes > limits.max_nodes {
        return Err(LimitError::TooManyNodes {
            nodes: cost.nodes,
            max: limits.max_nodes,
        });
    }
    if cost.depth > limits.max_depth {
        return Err(LimitError::TooDeep {
            depth: cost.depth,
            max: limits.max_depth,
        });
    }
    if cost.reports > limits.max_reports {
        return Err(LimitError::TooManyReports {
            reports: cost.reports,
            max: limits.max_reports,
        });
    }
    Ok(cost)
}

/// Set once the request reaches execution: the HTTP layer tells a request
/// refused before execution (parse, validation, variables: 400 under
/// `application/graphql-response+json`) from one that executed.
#[derive(Debug, Default)]
pub struct Executed(AtomicBool);

impl Executed {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The async-graphql extension that applies [`check`] to every request
/// before async-graphql parses or validates it, and marks [`Executed`].
pub struct QueryLimits {
    limits: DocumentLimits,
    reports: &'static [&'static str],
}

impl QueryLimits {
    pub fn new(limits: DocumentLimits, reports: &'static [&'static str]) -> Self {
        Self { limits, reports }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            limits: self.limits,
            reports: self.reports,
        })
    }
}

struct QueryLimitsExtension {
    limits: DocumentLimits,
    reports: &'static [&'static str],
}

/// `extensions.code` of an error that a request's document caused.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document refused by validation or a limit.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let mut extensions = error.extensions.take().unwrap_or_default();
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error.extensions = Some(extensions);
    error
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Parsed here once; async-graphql reuses the parsed document.
        let doc = request
            .parsed_query()
            .map_err(|e| with_code(e, PARSE_FAILED))?;
        check(doc, self.reports, self.limits).map_err(|e| {
            let limit = match e {
                LimitError::TooManyNodes { .. } => "nodes",
                LimitError::TooDeep { .. } => "depth",
                LimitError::TooManyReports { .. } => "reports",
                LimitError::FragmentCycle(_) => "fragments",
            };
            let mut error = with_code(ServerError::new(e.to_string(), None), VALIDATION_FAILED);
            if let Some(extensions) = error.extensions.as_mut() {
                extensions.set("limit", limit);
            }
            error
        })?;
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if let Some(meter) = ctx.data_opt::<Arc<super::cost::CostMeter>>() {
            meter.charge(result.complexity).map_err(|e| vec![e])?;
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(executed) = ctx.data_opt::<Arc<Executed>>() {
            executed.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    const REPORTS: &[&str] = &["channels", "overview"];

    fn cost(query: &str) -> Result<DocumentCost, LimitError> {
        measure(&parse_query(query).expect("the test query parses"), REPORTS)
    }

    /// `F0` selects one field; each `Fi` spreads `F(i-1)` ten times.
    fn fragment_bomb(levels: usize) -> String {
        let mut q = format!("query {{ ...F{levels} }} fragment F0 on Query {{ classify(url:\"https://a.b/\") {{ channel }} }}");
        for i in 1..=levels {
            q.push_str(&format!(" fragment F{i} on Query {{"));
            for _ in 0..10 {
                q.push_str(&format!(" ...F{}", i - 1));
            }
            q.push_str(" }");
        }
        q
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        // 2 × 10^10 fields once expanded; measured in microseconds.
        let c = cost(&fragment_bomb(10)).unwrap();
        assert_eq!(c.nodes, 2 * 10u64.pow(10));
        assert_eq!(c.depth, 2);
        let limits = DocumentLimits {
            max_nodes: 5_000,
            max_depth: 12,
            max_reports: 20,
        };
        let doc = parse_query(fragment_bomb(10)).unwrap();
        assert!(matches!(
            check(&doc, REPORTS, limits),
            Err(LimitError::TooManyNodes { .. })
        ));
    }

    #[test]
    fn fields_depth_and_reports_are_counted_as_expanded() {
        let c =
            cost("{ a { b c { d } } ...R } fragment R on Query { channels { x } overview { y } }")
                .unwrap();
        // a, b, c, d + channels, x, overview, y
        assert_eq!(c.nodes, 8);
        assert_eq!(c.depth, 3);
        assert_eq!(c.reports, 2);
    }

    #[test]
    fn aliases_of_one_report_each_count() {
        let c = cost("{ a: channels { x } b: channels { x } c: overview { y } }").unwrap();
        assert_eq!(c.reports, 3);
    }

    #[test]
    fn report_names_below_the_top_are_not_reports() {
        let c = cost("{ user { channels { x } } }").unwrap();
        assert_eq!(c.reports, 0);
    }

    #[test]
    fn introspection_is_left_out_of_the_depth_only() {
        let c = cost("{ __schema { types { fields { type { ofType { ofType { name } } } } } } }")
            .unwrap();
        assert_eq!(c.depth, 0);
        assert_eq!(c.nodes, 7);
    }

    #[test]
    fn a_fragment_cycle_is_refused_instead_of_looping() {
        let e =
            cost("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").unwrap_err();
        assert!(matches!(e, LimitError::FragmentCycle(_)));
    }

    #[test]
    fn unused_fragments_count_towards_the_nodes() {
        let c = cost("{ a } fragment U on Query { b c }").unwrap();
        assert_eq!(c.nodes, 3);
    }

    #[test]
    fn each_limit_refuses_with_its_own_error() {
        let doc = parse_query("{ a { b { c } } channels { x } overview { y } }").unwrap();
        let roomy = DocumentLimits {
            max_nodes: 100,
            max_depth: 12,
            max_reports: 20,
        };
        assert!(check(&doc, REPORTS, roomy).is_ok());
        let e = |l| check(&doc, REPORTS, l).unwrap_err();
        assert!(matches!(
            e(DocumentLimits {
                max_nodes: 5,
                ..roomy
            }),
            LimitError::TooManyNodes { nodes: 7, max: 5 }
        ));
        assert!(matches!(
            e(DocumentLimits {
                max_depth: 2,
                ..roomy
            }),
            LimitError::TooDeep { depth: 3, max: 2 }
        ));
        assert!(matches!(
            e(DocumentLimits {
                max_reports: 1,
                ..roomy
            }),
            LimitError::TooManyReports { reports: 2, max: 1 }
        ));
    }
}
