//! Alerting wiring: `tidewater rules check DIR` and reload on SIGHUP.

use std::path::PathBuf;
use std::sync::Arc;

use tidewater_alerting::rules::check::{check_rules, Planner};
use tidewater_alerting::rules::{load_dir, LoadOptions};
use tidewater_alerting::Alerting;

/// Arguments of `tidewater rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Validate rule files (like `promtool check rules`): every error with
    /// file, line and reason. With `--url`, every query is also planned
    /// against that server's catalog.
    Check {
        /// Directory of `*.yml` / `*.yaml` rule files.
        dir: PathBuf,
        /// Server whose catalog the SQL is planned against (e.g. http://127.0.0.1:4318).
        #[arg(long, env = "TIDEWATER_URL")]
        url: Option<String>,
    },
}

/// Plans SQL on a running server: `SELECT * FROM (sql) LIMIT 0` over `/api/v1/sql`.
#[derive(Debug)]
struct HttpPlanner {
    url: String,
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl Planner for HttpPlanner {
    async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, String> {
        let wrapped = format!("SELECT * FROM ({}) AS rule_check LIMIT 0", sql.trim().trim_end_matches(';'));
        let resp = self
            .client
            .post(format!("{}/api/v1/sql", self.url.trim_end_matches('/')))
            .json(&serde_json::json!({ "query": wrapped }))
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.url))?;
        let ok = resp.status().is_success();
        let body: serde_json::Value = resp.json().await.map_err(|e| format!("reading the answer: {e}"))?;
        if !ok {
            return Err(body["error"].as_str().unwrap_or("query refused").to_string());
        }
        Ok(body["columns"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        (c["name"].as_str().unwrap_or("").to_string(), c["type"].as_str().unwrap_or("").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Run `tidewater rules ...`.
pub async fn run(args: RulesArgs) -> Result<(), String> {
    let RulesCommand::Check { dir, url } = args.command;
    let set = match load_dir(&dir, &LoadOptions::default()) {
        Ok(set) => set,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return Err(format!("{} error(s) in the rule files", errors.len()));
        }
    };
    let rules: usize = set.groups.iter().map(|g| g.rules.len()).sum();
    if let Some(url) = url {
        let planner = HttpPlanner { url, client: reqwest::Client::new() };
        let errors = check_rules(&set, &planner, chrono::Utc::now()).await;
        if !errors.is_empty() {
            for e in &errors {
                eprintln!("{e}");
            }
            return Err(format!("{} error(s) planning the rules", errors.len()));
        }
    }
    println!("SUCCESS: {} groups, {rules} rules found", set.groups.len());
    Ok(())
}

/// Reload the rules on every SIGHUP.
pub fn reload_on_sighup(alerting: Arc<Alerting>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload the rules with POST /api/v1/rules/reload");
                return;
            };
            while hup.recv().await.is_some() {
                match alerting.reload().await {
                    Ok(groups) => tracing::info!(groups, "SIGHUP: alerting rules reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: alerting rules not reloaded; the previous ones stay")
                    }
                }
            }
        }
        #[cfg(not(unix))]
        drop(alerting);
    })
}
