//! Client commands: talk to a running daemon over its HTTP API.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::table;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("static client settings")
}

fn with_token(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var("SHIPWATCH_API_TOKEN") {
        Ok(t) if !t.is_empty() => rb.bearer_auth(t),
        _ => rb,
    }
}

/// Send a request; on a non-2xx answer print the server's error and return Err(exit code 1).
async fn call(server: &str, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, ExitCode> {
    let resp = match with_token(rb).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shipwatch: cannot reach the daemon at {server}: {e}");
            eprintln!(
                "  is it running? start it with: shipwatch run --config config/shipwatch.yaml (or pass --server URL)"
            );
            return Err(ExitCode::from(1));
        }
    };
    if resp.status().is_success() {
        return Ok(resp);
    }
    let code = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let msg =
        serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or(text);
    eprintln!("shipwatch: {code}: {msg}");
    if code == reqwest::StatusCode::UNAUTHORIZED {
        eprintln!("  set SHIPWATCH_API_TOKEN to the daemon's server.api_token");
    }
    Err(ExitCode::from(1))
}

fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
}

pub async fn release_start(
    server: &str,
    service: &str,
    version: &str,
    env: Option<String>,
    planned: bool,
) -> anyhow::Result<ExitCode> {
    let mut body = json!({ "service": service, "version": version, "planned": planned });
    if let Some(e) = env {
        body["environment"] = json!(e);
    }
    let resp = tri!(call(server, client().post(url(server, "/api/v1/releases")).json(&body)).await);
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    println!("{}", v["id"].as_str().unwrap_or("?"));
    eprintln!(
        "release {} {} ({}) is {}; follow it with: shipwatch status {}",
        v["service"].as_str().unwrap_or(""),
        v["version"].as_str().unwrap_or(""),
        v["environment"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or("")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn deploy(server: &str, id: &str) -> anyhow::Result<ExitCode> {
    tri!(call(server, client().post(url(server, &format!("/api/v1/releases/{id}/deploy")))).await);
    println!("release {id} deployed; its window starts now");
    Ok(ExitCode::SUCCESS)
}

fn secs(v: &Value) -> String {
    match v.as_f64() {
        Some(s) => humantime::format_duration(std::time::Duration::from_secs(s.max(0.0) as u64)).to_string(),
        None => "-".into(),
    }
}

pub async fn status(server: &str, id: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    let path = match id {
        Some(id) => format!("/api/v1/releases/{id}"),
        None => "/api/v1/releases".into(),
    };
    let resp = tri!(call(server, client().get(url(server, &path))).await);
    let v: Value = resp.json().await.context("reading the daemon's answer")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render_status(&v, id.is_some()));
    Ok(ExitCode::SUCCESS)
}

/// The human form of `status`.
pub fn render_status(v: &Value, one: bool) -> String {
    if !one {
        let rows: Vec<Vec<String>> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        let c = &r["counts"];
                        vec![
                            r["id"].as_str().unwrap_or("").into(),
                            format!("{} {}", r["service"].as_str().unwrap_or(""), r["version"].as_str().unwrap_or("")),
                            r["environment"].as_str().unwrap_or("").into(),
                            r["state"].as_str().unwrap_or("").into(),
                            format!(
                                "{}/{}/{}/{}",
                                c["complete"],
                                c["pending"],
                                c["failing"].as_u64().unwrap_or(0) + c["regressed"].as_u64().unwrap_or(0),
                                c["manual"]
                            ),
                            secs(&r["window"]["remaining_s"]),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        if rows.is_empty() {
            return "no releases yet; start one with: shipwatch release start --service S --version V\n".into();
        }
        return table::render(&["ID", "RELEASE", "ENV", "STATE", "DONE/PEND/RED/MANUAL", "LEFT"], &rows);
    }
    let mut out = format!(
        "{} {} {} ({}) — {}{}\n",
        v["id"].as_str().unwrap_or(""),
        v["service"].as_str().unwrap_or(""),
        v["version"].as_str().unwrap_or(""),
        v["environment"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        v["reason"].as_str().map(|r| format!(": {r}")).unwrap_or_default()
    );
    out.push_str(&format!(
        "window: {} elapsed, {} left\n\n",
        secs(&v["window"]["elapsed_s"]),
        secs(&v["window"]["remaining_s"])
    ));
    let rows: Vec<Vec<String>> = v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["automated"].as_bool() == Some(true) || i["state"] != "manual")
                .map(|i| {
                    let ev = i["evidence"]["evidence"]["message"].as_str().or(i["note"].as_str()).unwrap_or("");
                    vec![
                        i["state"].as_str().unwrap_or("").into(),
                        i["id"].as_str().unwrap_or("").into(),
                        ev.chars().take(70).collect(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&table::render(&["STATE", "ITEM", "EVIDENCE"], &rows));
    let manual = v["counts"]["manual"].as_u64().unwrap_or(0);
    if manual > 0 {
        out.push_str(&format!("\n{manual} manual items wait for a person (shipwatch tick ID ITEM --by NAME)\n"));
    }
    out
}

pub async fn tick(server: &str, id: &str, item: &str, by: &str, note: Option<String>) -> anyhow::Result<ExitCode> {
    let body = json!({ "by": by, "note": note });
    tri!(
        call(server, client().post(url(server, &format!("/api/v1/releases/{id}/items/{item}/tick"))).json(&body)).await
    );
    println!("ticked {item} in {id} (by {by})");
    Ok(ExitCode::SUCCESS)
}

pub async fn waive(server: &str, id: &str, item: &str, by: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let body = json!({ "by": by, "reason": reason });
    tri!(
        call(server, client().post(url(server, &format!("/api/v1/releases/{id}/items/{item}/waive"))).json(&body))
            .await
    );
    println!("waived {item} in {id} (by {by}: {reason})");
    Ok(ExitCode::SUCCESS)
}
