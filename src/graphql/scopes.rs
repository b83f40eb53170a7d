//! The scope each root field needs, decided from the document before any
//! of it executes: a request that selects one field its key may not run is
//! refused whole (403), so no part of it runs.
//!
//! `record*` mutations need `ingest`; every other mutation (key management,
//! `eraseUser`) needs `admin`, as do the queries `apiKeys` and `auditLog`;
//! every other query needs `read`.
//!
//! Introspection (`__schema`, `__type`, `__typename`) needs only a valid
//! key: the schema is public (`schema.graphql`), and ingest-only senders
//! use it to discover the `record*` mutations.

use std::collections::{BTreeSet, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

use crate::auth::Scope;

/// Queries that need `admin`.
const ADMIN_QUERIES: &[&str] = &["apiKeys", "auditLog"];

fn scope_of(ty: OperationType, field: &str) -> Option<Scope> {
    if field.starts_with("__") {
        return None;
    }
    Some(match ty {
        OperationType::Mutation if field.starts_with("record") => Scope::Ingest,
        // Unknown mutations are refused by validation anyway; until then
        // they are treated as the most privileged.
        OperationType::Mutation => Scope::Admin,
        OperationType::Query if ADMIN_QUERIES.contains(&field) => Scope::Admin,
        OperationType::Query | OperationType::Subscription => Scope::Read,
    })
}

/// The scopes the selected operation needs (every operation's when the
/// name is missing or matches none: execution refuses those, but nothing
/// may slip through meanwhile).
pub fn required(doc: &ExecutableDocument, operation: Option<&str>) -> BTreeSet<Scope> {
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => {
            let named: Vec<_> = ops
                .iter()
                .filter(|(n, _)| Some(n.as_str()) == operation)
                .map(|(_, op)| op)
                .collect();
            if named.is_empty() {
                ops.values().collect()
            } else {
                named
            }
        }
    };
    let mut scopes = BTreeSet::new();
    for op in ops {
        let mut seen = HashSet::new();
        root_fields(
            doc,
            &op.node.selection_set.node,
            op.node.ty,
            &mut seen,
            &mut scopes,
        );
    }
    scopes
}

/// The root fields of a selection set, through fragments (each once: a
/// cycle is refused later by the limits, and must not loop here).
fn root_fields(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    ty: OperationType,
    seen: &mut HashSet<String>,
    scopes: &mut BTreeSet<Scope>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                if let Some(scope) = scope_of(ty, field.node.name.node.as_str()) {
                    scopes.insert(scope);
                }
            }
            Selection::InlineFragment(inline) => {
                root_fields(doc, &inline.node.selection_set.node, ty, seen, scopes);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if !seen.insert(name.to_owned()) {
                    continue;
                }
                if let Some(fragment) = doc.fragments.get(name) {
                    root_fields(doc, &fragment.node.selection_set.node, ty, seen, scopes);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn needs(q: &str, op: Option<&str>) -> Vec<Scope> {
        required(&parse_query(q).unwrap(), op).into_iter().collect()
    }

    #[test]
    fn queries_need_read_and_record_mutations_ingest() {
        assert_eq!(needs("{ channels { totalCount } }", None), [Scope::Read]);
        assert_eq!(
            needs("mutation { recordPageview(input: {}) { id } }", None),
            [Scope::Ingest]
        );
        assert_eq!(
            needs("mutation { eraseUser(id: \"u\") { events } }", None),
            [Scope::Admin]
        );
        assert_eq!(
            needs("{ auditLog { entries { at } } }", None),
            [Scope::Admin]
        );
        assert!(needs("{ __schema { types { name } } __typename }", None).is_empty());
    }

    #[test]
    fn fragments_and_inline_fragments_are_followed() {
        let q = "mutation { ...A ... on Mutation { recordEvent(input: {}) { id } } } \
                 fragment A on Mutation { ...B } fragment B on Mutation { eraseUser(id: \"u\") { events } }";
        assert_eq!(needs(q, None), [Scope::Ingest, Scope::Admin]);
        let cycle = "{ ...A } fragment A on Query { ...A pageviews { totalCount } }";
        assert_eq!(needs(cycle, None), [Scope::Read]);
    }

    #[test]
    fn the_named_operation_decides_and_an_unknown_name_takes_all() {
        let q = "query R { channels { totalCount } } mutation W { recordEvent(input: {}) { id } }";
        assert_eq!(needs(q, Some("W")), [Scope::Ingest]);
        assert_eq!(needs(q, Some("R")), [Scope::Read]);
        assert_eq!(needs(q, Some("X")), [Scope::Ingest, Scope::Read]);
    }
}
