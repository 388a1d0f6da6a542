//! Every TOML example of `docs/pipelines.md` parses and builds, and every
//! processor type has its section there.

use crate::config::{PipelinesConfig, Signal};
use crate::handle::Pipelines;

const DOC: &str = include_str!("../../docs/pipelines.md");

fn toml_blocks() -> Vec<&'static str> {
    DOC.split("```toml\n").skip(1).filter_map(|b| b.split("```").next()).collect()
}

#[tokio::test]
async fn docs_examples_parse_and_build() {
    let blocks = toml_blocks();
    assert!(blocks.len() >= 10, "found {} examples", blocks.len());
    for b in &blocks {
        let c = PipelinesConfig::from_toml(b, "docs/pipelines.md").unwrap_or_else(|e| panic!("{e}\n{b}"));
        Pipelines::new(&c, None).unwrap_or_else(|e| panic!("{e}\n{b}"));
    }
    // All examples together are one valid config using every processor type.
    let all = PipelinesConfig::from_toml(&blocks.concat(), "docs/pipelines.md").expect("all examples together");
    let mut kinds: Vec<_> = [Signal::Metrics, Signal::Logs]
        .into_iter()
        .flat_map(|s| all.processors(s).into_iter().map(|p| p.kind()))
        .collect();
    kinds.sort();
    kinds.dedup();
    let every =
        ["attributes", "cardinality_limit", "filter", "forward", "parse", "promote", "redact", "rename", "sample"];
    assert_eq!(kinds, every);
    for k in every {
        assert!(DOC.contains(&format!("\n## {k}")), "a section for {k}");
    }
}
