//! The standard introspection queries of the common GraphQL clients work at
//! the default limits: GraphiQL's docs, codegen and IDE plugins send them.
//! The query texts are committed (tests/fixtures/introspection/, see its
//! refresh.sh), so this needs neither Node nor Python.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

const QUERIES: [(&str, &str); 2] = [
    (
        "graphql-js 16 getIntrospectionQuery()",
        include_str!("../fixtures/introspection/graphql-js-16.graphql"),
    ),
    (
        "graphql-core 3.3 get_introspection_query()",
        include_str!("../fixtures/introspection/graphql-core-3.3.graphql"),
    ),
];

#[tokio::test]
async fn the_standard_introspection_queries_of_graphql_js_and_graphql_core_succeed_at_the_default_limits(
) {
    let app = spawn_app().await;
    for (client, query) in QUERIES {
        let response = app
            .post_json(
                "/graphql",
                &json!({ "query": query, "operationName": "IntrospectionQuery" }),
            )
            .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("the answer is not JSON");
        assert!(
            body.get("errors").is_none(),
            "{client}: the introspection query was answered with errors (HTTP {status}): {}",
            body["errors"]
        );
        assert_eq!(status, 200, "{client}");
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query", "{client}");
        let types = schema["types"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert!(
            types.iter().any(|t| t["name"] == "Channel")
                && types.iter().any(|t| t["name"] == "__Schema"),
            "{client}: __schema.types lacks the schema's own and the introspection types: {schema}"
        );
    }
}
