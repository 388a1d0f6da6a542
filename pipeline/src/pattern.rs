//! Name and value patterns of the config: globs and regular expressions,
//! compiled (and so checked) while the config is parsed, so a bad pattern is
//! reported with its line.

use regex::Regex;
use serde::{Deserialize, Deserializer};

/// A regular expression (Rust `regex` syntax), unanchored unless it says so.
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compile `source`.
    pub fn new(source: &str) -> Result<Self, String> {
        Regex::new(source).map(Self).map_err(|e| format!("invalid regular expression {source:?}: {e}"))
    }

    /// The compiled expression.
    pub fn regex(&self) -> &Regex {
        &self.0
    }

    /// Whether the expression matches anywhere in `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A glob over names: `*` is any run of characters, `?` one character;
/// everything else is literal. Matches the whole name.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    regex: Regex,
}

impl Glob {
    /// Compile `source`.
    pub fn new(source: &str) -> Result<Self, String> {
        let mut re = String::with_capacity(source.len() + 8);
        re.push('^');
        for c in source.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        re.push('$');
        let regex = Regex::new(&re).map_err(|e| format!("invalid glob {source:?}: {e}"))?;
        Ok(Self { source: source.to_string(), regex })
    }

    /// Whether the glob matches all of `name`.
    pub fn is_match(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Glob::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Metric selection by globs, matched against the name as sent and against
/// its table name (`http.server.duration` and `http_server_duration` both
/// select the metric `http.server.duration`).
#[derive(Debug, Clone, Default)]
pub struct MetricSelector {
    globs: Vec<Glob>,
    /// All globs as one alternation (one regex run per name).
    any: Option<Regex>,
}

impl PartialEq for MetricSelector {
    fn eq(&self, other: &Self) -> bool {
        self.globs == other.globs
    }
}

impl MetricSelector {
    /// A selector from globs; empty selects every metric.
    pub fn new(globs: Vec<Glob>) -> Result<Self, String> {
        let any = match globs.len() {
            0 => None,
            _ => {
                let alternation: Vec<&str> = globs.iter().map(|g| g.regex.as_str()).collect();
                Some(Regex::new(&alternation.join("|")).map_err(|e| format!("globs: {e}"))?)
            }
        };
        Ok(Self { globs, any })
    }

    /// Whether no glob was given.
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// Whether a glob selects `name` (no globs: any name).
    pub fn selects(&self, name: &str) -> bool {
        self.globs.is_empty() || self.matches(name)
    }

    /// Whether a glob matches `name` or its table name (no globs: none).
    pub fn matches(&self, name: &str) -> bool {
        let Some(any) = &self.any else { return false };
        if any.is_match(name) {
            return true;
        }
        match crate::otlp::table_name(name) {
            Some(std::borrow::Cow::Owned(t)) => any.is_match(&t),
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for MetricSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(Vec::<Glob>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_and_escape_the_rest() {
        let g = Glob::new("http.*.duration").expect("glob");
        assert!(g.is_match("http.server.duration"));
        assert!(!g.is_match("xhttp.server.duration"));
        assert!(!g.is_match("http_server_duration"), "the dot is literal");
        assert!(Glob::new("a?c").expect("glob").is_match("abc"));
        assert!(Glob::new("(").is_ok(), "parentheses are literal in globs");
    }

    #[test]
    fn selectors_match_the_name_or_its_table_name() {
        let s = MetricSelector::new(vec![Glob::new("http_server_*").expect("glob"), Glob::new("db.*").expect("glob")])
            .expect("selector");
        assert!(s.selects("db.client.duration"));
        assert!(s.selects("http.server.duration"));
        assert!(!s.selects("http.client.duration"));
        assert!(MetricSelector::default().selects("anything"));
        assert!(!MetricSelector::default().matches("anything"));
    }

    #[test]
    fn bad_regexes_are_refused_with_the_pattern() {
        let e = Pattern::new("a(b").expect_err("unclosed group");
        assert!(e.contains("a(b"), "{e}");
    }
}
