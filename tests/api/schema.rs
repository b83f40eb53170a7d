//! The checked-in SDL is the contract dashboards code against: it must be
//! exactly what the code serves.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    let actual = growth_analytics::graphql::sdl();
    assert!(
        checked_in == actual,
        "schema.graphql is out of date with the code. Regenerate it with:\n\n    \
         cargo run -- schema > schema.graphql\n\nand review the diff: renaming or \
         removing a field breaks dashboards."
    );
}
