//! The README's GraphQL examples, in the order they appear, on the data
//! that `serve --demo` seeds: each must answer without errors and with
//! something in it, so a newcomer pasting them sees real answers.

use serde_json::{json, Value};

use crate::helpers::spawn_demo_app;

const README: &str = include_str!("../../README.md");

/// The fenced ```graphql blocks of a Markdown text, in order.
fn graphql_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```graphql" => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Where an answer is empty: a null top-level field, or an empty list.
fn empty_places(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Array(items) if items.is_empty() => out.push(path.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                empty_places(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                empty_places(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_readme_query_answers_with_data_on_the_demo() {
    let blocks = graphql_blocks(README);
    assert!(blocks.len() >= 6, "the README has its examples");
    let app = spawn_demo_app().await;
    for block in blocks {
        let body = app.graphql(&block, json!({})).await;
        assert!(body.get("errors").is_none(), "{block}\n→ {body}");
        let data = body["data"].as_object().expect("data");
        for (field, value) in data {
            assert!(!value.is_null(), "{block}\n→ `{field}` is null");
        }
        let mut empty = Vec::new();
        empty_places(&body["data"], "data", &mut empty);
        assert!(empty.is_empty(), "{block}\n→ empty: {empty:?} in {body}");
    }
}
