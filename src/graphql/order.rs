//! Puts an answer's fields in the order the query selected them.
//!
//! async-graphql resolves the fields of an object concurrently and keeps
//! them in the order they finished, so the same query could answer
//! `{"events":…,"pageviews":…}` one time and the other way round the
//! next. GraphQL answers list fields in selection order, and ours are
//! deterministic: after execution the data is reordered by walking the
//! executed operation's selection sets (fragments and inline fragments
//! expanded in place, a field selected twice kept at its first place).

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::Value;

/// Reorders `data`, the answer to operation `operation` of `doc`.
pub fn in_selection_order(data: &mut Value, doc: &ExecutableDocument, operation: Option<&str>) {
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    if let Some(op) = op {
        reorder(data, doc, &[&op.node.selection_set.node]);
    }
}

/// Response keys in selection order, each with the sub-selections of every
/// field that answers under it (a key selected twice merges its fields).
fn keys<'a>(
    doc: &'a ExecutableDocument,
    sets: &[&'a SelectionSet],
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
) {
    for set in sets {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let key = field
                        .node
                        .alias
                        .as_ref()
                        .map_or(field.node.name.node.as_str(), |a| a.node.as_str());
                    let sub = &field.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(sub),
                        None => out.push((key, vec![sub])),
                    }
                }
                Selection::InlineFragment(inline) => {
                    keys(doc, &[&inline.node.selection_set.node], out)
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        keys(doc, &[&fragment.node.selection_set.node], out);
                    }
                }
            }
        }
    }
}

fn reorder(value: &mut Value, doc: &ExecutableDocument, sets: &[&SelectionSet]) {
    match value {
        Value::List(items) => {
            for item in items {
                reorder(item, doc, sets);
            }
        }
        Value::Object(map) => {
            let mut order = Vec::new();
            keys(doc, sets, &mut order);
            let mut ordered = IndexMap::with_capacity(map.len());
            for (key, subs) in order {
                if let Some((name, mut v)) = map.shift_remove_entry(key) {
                    reorder(&mut v, doc, &subs);
                    ordered.insert(name, v);
                }
            }
            // Nothing should be left; keep it rather than lose it if so.
            ordered.extend(std::mem::take(map));
            *map = ordered;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::Name;

    fn obj(pairs: Vec<(&str, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
    }

    fn key_order(v: &Value) -> Vec<String> {
        match v {
            Value::Object(m) => m.keys().map(|k| k.to_string()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn fields_aliases_fragments_and_lists_follow_the_query() {
        let doc = parse_query(
            "{ b: events { totalCount } ...F pageviews { nodes { url id } } } fragment F on Query { a: overview { x } }",
        )
        .unwrap();
        let mut data = obj(vec![
            (
                "pageviews",
                obj(vec![(
                    "nodes",
                    Value::List(vec![obj(vec![
                        ("id", Value::from(1)),
                        ("url", Value::from("u")),
                    ])]),
                )]),
            ),
            ("a", obj(vec![("x", Value::from(1))])),
            ("b", obj(vec![("totalCount", Value::from(0))])),
        ]);
        in_selection_order(&mut data, &doc, None);
        assert_eq!(key_order(&data), ["b", "a", "pageviews"]);
        let Value::Object(m) = &data else {
            unreachable!()
        };
        let Value::Object(p) = &m["pageviews"] else {
            unreachable!()
        };
        let Value::List(nodes) = &p["nodes"] else {
            unreachable!()
        };
        assert_eq!(key_order(&nodes[0]), ["url", "id"]);
    }

    #[test]
    fn the_named_operation_is_the_one_followed() {
        let doc = parse_query("query A { x y } query B { y x }").unwrap();
        let mut data = obj(vec![("x", Value::from(1)), ("y", Value::from(2))]);
        in_selection_order(&mut data, &doc, Some("B"));
        assert_eq!(key_order(&data), ["y", "x"]);
    }
}
