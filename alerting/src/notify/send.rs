//! Delivery over HTTP: retries with exponential backoff on 429, 5xx and
//! network errors (never on other 4xx), and the private-address guard.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// How one receiver delivers.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Attempts in all.
    pub max_attempts: u32,
    /// First retry delay, doubled each attempt (capped at 60 s).
    pub initial_backoff: Duration,
    /// Refuse private, loopback and link-local targets.
    pub deny_private: bool,
}

/// Whether `ip` is loopback, private, link-local, CGNAT, unspecified or unique-local.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Refuse `url` if any address it resolves to is private.
async fn guard(url: &reqwest::Url) -> Result<()> {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| Error::Notify { target: url.to_string(), reason: format!("resolving: {e}"), retryable: true })?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(ip) = addrs.into_iter().find(|ip| is_private(*ip)) {
        return Err(Error::Notify {
            target: url.to_string(),
            reason: format!("refused: {ip} is a private address (alerting.deny_private_targets)"),
            retryable: false,
        });
    }
    Ok(())
}

/// POST `body` as JSON to `url`, retrying as [`Delivery`] says. Returns the
/// number of attempts made.
pub async fn post_json(client: &reqwest::Client, url: &str, body: &Value, d: &Delivery) -> Result<u32> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::Notify {
        target: url.to_string(),
        reason: e.to_string(),
        retryable: false,
    })?;
    if d.deny_private {
        guard(&parsed).await?;
    }
    let mut backoff = d.initial_backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = client.post(parsed.clone()).json(body).send().await;
        let (retryable, reason, retry_after) = match outcome {
            Ok(resp) if resp.status().is_success() => return Ok(attempt),
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
                let retryable = status.as_u16() == 429 || status.is_server_error();
                (retryable, format!("HTTP {status}: {text}"), retry_after)
            }
            Err(e) => (true, e.to_string(), None),
        };
        if !retryable || attempt >= d.max_attempts {
            return Err(Error::Notify { target: url.to_string(), reason, retryable });
        }
        let wait = retry_after.unwrap_or(backoff).min(Duration::from_secs(60));
        tracing::warn!(url, attempt, wait_ms = wait.as_millis() as u64, reason, "notification failed; retrying");
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:4860::8888"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }
}
