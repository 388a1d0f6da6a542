//! `tidewater sql`: send a query to a server's `/api/v1/sql` and print it.

use arrow::ipc::reader::StreamReader;

/// Arguments of `tidewater sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// Server base URL.
    #[arg(long, env = "TIDEWATER_URL", default_value = "http://127.0.0.1:4318")]
    url: String,
    /// Output: table, csv or json.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
    /// The SQL query.
    query: String,
}

/// Run the query and print the answer on stdout.
pub async fn run(args: SqlArgs) -> Result<(), String> {
    let wire = if args.format == "table" { "arrow" } else { args.format.as_str() };
    let url = format!("{}/api/v1/sql", args.url.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .query(&[("format", wire)])
        .json(&serde_json::json!({ "query": args.query }))
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("reading the answer: {e}"))?;
    if !status.is_success() {
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(format!("{status}: {msg}"));
    }
    if args.format != "table" {
        println!("{}", String::from_utf8_lossy(&body).trim_end());
        return Ok(());
    }
    let reader =
        StreamReader::try_new(std::io::Cursor::new(body), None).map_err(|e| format!("decoding the answer: {e}"))?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| format!("decoding the answer: {e}"))?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let table = arrow::util::pretty::pretty_format_batches(&batches).map_err(|e| e.to_string())?;
    println!("{table}");
    println!("({rows} row{})", if rows == 1 { "" } else { "s" });
    Ok(())
}
