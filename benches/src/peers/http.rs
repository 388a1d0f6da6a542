//! A small blocking HTTP client for the harness: async `reqwest` driven by a
//! current-thread runtime (the harness itself is synchronous).

use std::time::Duration;

use super::{Error, Result};

/// An answer: status code and body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Blocking HTTP client.
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    /// A client whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Http(format!("runtime: {e}")))?;
        let client =
            reqwest::Client::builder().timeout(timeout).build().map_err(|e| Error::Http(format!("client: {e}")))?;
        Ok(Self { rt, client })
    }

    /// `GET url?params`.
    pub fn get(&self, url: &str, params: &[(&str, String)]) -> Result<Answer> {
        self.send(self.client.get(url).query(params), url)
    }

    /// `POST url` with a JSON body.
    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Answer> {
        self.send(self.client.post(url).json(body), url)
    }

    fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Answer> {
        self.rt.block_on(async {
            let resp = req.send().await.map_err(|e| Error::Http(format!("{url}: {e}")))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.map_err(|e| Error::Http(format!("{url}: reading the answer: {e}")))?;
            Ok(Answer { status, body })
        })
    }
}
