//! Label and annotation templates: `{{ labels.x }}` (or `{{ $labels.x }}`)
//! and `{{ value }}` (or `{{ $value }}`), checked when the rule is loaded.

use std::collections::BTreeMap;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Label(String),
    Value,
}

impl Template {
    /// Parse `text`; an unknown expression or an unclosed `{{` is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| format!("unclosed '{{{{' in template {text:?}"))?;
            let expr = after[..close].trim();
            let expr = expr.strip_prefix('$').unwrap_or(expr);
            if expr == "value" {
                parts.push(Part::Value);
            } else if let Some(name) = expr.strip_prefix("labels.") {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid label name {name:?} in template {text:?}"));
                }
                parts.push(Part::Label(name.to_string()));
            } else {
                return Err(format!(
                    "unknown template expression {expr:?} in {text:?} (use {{{{ labels.NAME }}}} or {{{{ value }}}})"
                ));
            }
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { source: text.to_string(), parts })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Render with an alert's labels and value (a missing label renders empty).
    pub fn render(&self, labels: &BTreeMap<String, String>, value: f64) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Label(l) => out.push_str(labels.get(l).map_or("", String::as_str)),
                Part::Value => out.push_str(&format_value(value)),
            }
        }
        out
    }
}

/// A sample value as text: integers without a fraction, others with up to
/// 6 significant decimals.
pub fn format_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        v.to_string()
    }
}

/// A map of templates (labels or annotations).
pub type Templates = BTreeMap<String, Template>;

/// Render every template of `t`.
pub fn render_all(t: &Templates, labels: &BTreeMap<String, String>, value: f64) -> BTreeMap<String, String> {
    t.iter().map(|(k, v)| (k.clone(), v.render(labels, value))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_and_value() {
        let t = Template::parse("{{ labels.service }} at {{$value}} ({{ $labels.missing }})").expect("parses");
        let labels = BTreeMap::from([("service".to_string(), "checkout".to_string())]);
        assert_eq!(t.render(&labels, 0.25), "checkout at 0.25 ()");
        assert_eq!(Template::parse("{{ value }}").expect("parses").render(&labels, 3.0), "3");
        assert!(Template::parse("{{ humanize value }}").unwrap_err().contains("unknown template expression"));
        assert!(Template::parse("{{ value").unwrap_err().contains("unclosed"));
    }
}
