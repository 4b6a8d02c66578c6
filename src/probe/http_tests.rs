//! Tests of the HTTP probe against local axum servers.

use super::*;
use crate::probe::{ReleaseVars, Status};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;

const SECRET: &str = "s3cr3t-token-value";

async fn serve() -> String {
    let slow = |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "late"
    };
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/500", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route(
            "/json",
            get(|| async {
                axum::Json(json!({"version": "1.4.2", "build": 7, "ready": true,
                    "items": [{"s": "ok"}, {"s": "ok"}, {"s": "down"}], "ok": [{"s": "ok"}]}))
            }),
        )
        .route("/empty", get(|| async { "" }))
        .route("/html", get(|| async { "<html><body>maintenance</body></html>" }))
        .route("/slow", get(move || slow(3000)))
        .route("/delay", get(move || slow(150)))
        .route("/header", get(|| async { ([("x-release", "v1.4.2-abc")], "hdr") }))
        .route("/large", get(|| async { "x".repeat(3 * 1024 * 1024) }))
        .route("/echo", get(|h: HeaderMap| async move { format!("you sent {:?}", h.get("authorization")) }))
        .route("/post", post(|body: String| async move { format!("got {body}") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn ctx() -> RunContext {
    RunContext {
        release: ReleaseVars { version: "1.4.2".into(), service: "api".into(), ..ReleaseVars::default() },
        ..Default::default()
    }
}

fn probe(url: String, extra: Value) -> HttpProbe {
    let mut v = json!({ "url": url });
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let p: HttpProbe = serde_json::from_value(v).expect("probe deserializes");
    p.validate().expect("probe validates");
    p
}

async fn run(p: &HttpProbe, rt: &Runtime) -> Outcome {
    p.run(&ctx(), rt).await
}

#[tokio::test]
async fn checks_against_a_live_server() {
    let base = serve().await;
    let rt = Runtime::new(Redactor::default());
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, Status, &str)> = vec![
        ("/ok", json!({}), Status::Pass, "HTTP 200 in"),
        ("/ok", json!({}), Status::Pass, "1 check passed"),
        ("/500", json!({}), Status::Fail, "HTTP 500, expected status in [2xx]"),
        ("/500", json!({"expect": {"status": [500]}}), Status::Pass, "HTTP 500"),
        ("/500", json!({"expect": {"status": ["5xx"]}}), Status::Pass, "HTTP 500"),
        ("/500", json!({"expect": {"status": ["200-299", 404]}}), Status::Fail, "status in [200-299, 404]"),
        ("/ok", json!({"expect": {"status": ["200-204"], "body_contains": "ok"}}), Status::Pass, "2 checks passed"),
        ("/ok", json!({"expect": {"body_contains": "nope"}}), Status::Fail, "body does not contain \"nope\""),
        ("/ok", json!({"expect": {"body_regex": "^o.$"}}), Status::Pass, "2 checks passed"),
        ("/ok", json!({"expect": {"body_regex": "^x"}}), Status::Fail, "body does not match /^x/"),
        ("/json", json!({"expect": {"json": {"$.version": "{{ release.version }}"}}}), Status::Pass, "2 checks passed"),
        ("/json", json!({"expect": {"json": {"$.version": "1.4.3"}}}), Status::Fail, "$.version is \"1.4.2\", expected \"1.4.3\""),
        ("/json", json!({"expect": {"json": {"$.build": "7", "$.ready": "true"}}}), Status::Pass, "3 checks passed"),
        ("/json", json!({"expect": {"json": {"$.build": 7.0, "$.ready": true}}}), Status::Pass, "3 checks passed"),
        ("/json", json!({"expect": {"json": {"$.build": 8}}}), Status::Fail, "$.build is 7, expected 8"),
        ("/json", json!({"expect": {"json": {"$.missing": 1}}}), Status::Fail, "$.missing matched nothing"),
        ("/json", json!({"expect": {"json": {"$.ok[*].s": "ok"}}}), Status::Pass, "2 checks passed"),
        ("/json", json!({"expect": {"json": {"$.items[*].s": "ok"}}}), Status::Fail, "$['items'][2]['s'] is \"down\""),
        ("/empty", json!({"expect": {"json": {"$.version": "1.4.2"}}}), Status::Fail, "expected a JSON body, got an empty body"),
        ("/html", json!({"expect": {"json": {"$.version": "1.4.2"}}}), Status::Fail, "got non-JSON body: <html><body>maintenance"),
        ("/delay", json!({"expect": {"max_latency": "20ms"}}), Status::Fail, "slower than max_latency 20ms"),
        ("/delay", json!({"expect": {"max_latency": "5s"}}), Status::Pass, "2 checks passed"),
        ("/header", json!({"expect": {"headers": {"X-Release": "{{ release.version }}"}}}), Status::Pass, "2 checks passed"),
        ("/header", json!({"expect": {"headers": {"x-release": "9.9"}}}), Status::Fail, "header x-release is \"v1.4.2-abc\""),
        ("/header", json!({"expect": {"headers": {"x-missing": "a"}}}), Status::Fail, "response has no header x-missing"),
        ("/post", json!({"method": "post", "body": "v={{ release.version }}", "expect": {"body_contains": "got v=1.4.2"}}), Status::Pass, "HTTP 200"),
        ("/{{ release.nope }}", json!({}), Status::Error, "template"),
    ];
    for (path, extra, want, msg) in cases {
        let p = probe(format!("{base}{path}"), extra.clone());
        let o = run(&p, &rt).await;
        let e = &o.evidence;
        let label = format!("{path} {extra}: {e:?}");
        assert_eq!(o.status, want, "{label}");
        assert!(e.message.contains(msg), "message {:?} lacks {msg:?}; {label}", e.message);
        assert!(e.target.as_deref().unwrap().contains(&base), "{label}");
        if want != Status::Error {
            assert!(e.status_code.is_some() && e.latency_ms.is_some(), "{label}");
            assert!(e.expected.is_some() && e.observed.is_some(), "{label}");
        }
        assert_eq!(want == Status::Fail, e.details.contains_key("body_snippet"), "{label}");
    }
}

#[tokio::test]
async fn evidence_fields() {
    let base = serve().await;
    let rt = Runtime::new(Redactor::default());
    let p = probe(format!("{base}/json"), json!({"expect": {"json": {"$.version": "{{ release.version }}"}}}));
    let e = run(&p, &rt).await.evidence;
    assert_eq!(e.target.unwrap(), format!("GET {base}/json"));
    assert_eq!(e.expected.unwrap(), "status in [2xx]; $.version == \"1.4.2\"");
    assert_eq!((e.observed.unwrap(), e.status_code), ("200".to_string(), Some(200)));

    let p = probe(format!("{base}/500"), json!({}));
    let e = run(&p, &rt).await.evidence;
    assert_eq!((e.expected.unwrap(), e.observed.unwrap()), ("status in [2xx]".into(), "500".into()));
    assert_eq!(e.details["body_snippet"], "boom");

    let p = probe(format!("{base}/delay"), json!({"expect": {"max_latency": "20ms"}}));
    let e = run(&p, &rt).await.evidence;
    let observed = e.observed.unwrap();
    let n: u64 = observed.strip_suffix(" ms").expect("observed like `812 ms`").parse().unwrap();
    assert!(n >= 150 && e.latency_ms.unwrap() >= 150.0, "{observed}");
}

#[tokio::test]
async fn transport_failures_are_errors() {
    let base = serve().await;
    let rt = Runtime::new(Redactor::default());
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // Accepts and hangs up without answering.
    let hangup = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hangup_addr = hangup.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = hangup.accept().await {
            let _ = sock.set_zero_linger();
            drop(sock);
        }
    });
    let cases = [
        (format!("http://{refused}/"), json!({}), "connection refused"),
        (format!("http://{hangup_addr}/"), json!({}), "connection reset"),
        (base.replace("http://", "https://") + "/ok", json!({}), "TLS error: "),
        ("http://nonexistent.invalid/".to_string(), json!({}), "DNS lookup failed for host nonexistent.invalid"),
        (format!("{base}/slow"), json!({"timeout": "300ms"}), "timed out after 300ms"),
    ];
    for (url, extra, msg) in cases {
        let start = std::time::Instant::now();
        let o = run(&probe(url.clone(), extra), &rt).await;
        assert_eq!(o.status, Status::Error, "{url}: {o:?}");
        assert!(o.evidence.message.contains(msg), "{url}: {:?}", o.evidence.message);
        assert!(start.elapsed() < Duration::from_secs(2), "{url} took {:?}", start.elapsed());
    }
}

#[tokio::test]
async fn large_body_is_truncated_not_an_error() {
    let base = serve().await;
    let rt = Runtime::new(Redactor::default());
    for (max_body, want, note) in
        [(Some(1000), Status::Pass, true), (None, Status::Pass, true), (Some(4 << 20), Status::Pass, false)]
    {
        let p = probe(format!("{base}/large"), json!({"max_body": max_body, "expect": {"body_contains": "xxx"}}));
        let o = run(&p, &rt).await;
        assert_eq!(o.status, want, "{o:?}");
        assert_eq!(o.evidence.message.contains("body truncated at"), note, "{}", o.evidence.message);
        assert_eq!(o.evidence.details.contains_key("body_truncated"), note);
    }
    let p = probe(format!("{base}/large"), json!({"max_body": 1000, "expect": {"body_contains": "nope"}}));
    let o = run(&p, &rt).await;
    assert_eq!(o.status, Status::Fail);
    assert!(o.evidence.message.contains("(body truncated at 1000 bytes)"), "{}", o.evidence.message);
}

#[tokio::test]
async fn secrets_echoed_back_never_reach_evidence() {
    let base = serve().await;
    let redactor = Redactor::default();
    redactor.add(SECRET);
    let rt = Runtime::new(redactor);
    let headers = json!({"authorization": format!("Bearer {SECRET}")});
    for expect in [
        json!({"body_contains": "nope"}),
        json!({"json": {"$.v": 1}}),
        json!({"body_contains": SECRET}),
        json!({"status": [404]}),
    ] {
        let p = probe(format!("{base}/echo?token={SECRET}"), json!({"headers": headers, "expect": expect}));
        let o = run(&p, &rt).await;
        let text = serde_json::to_string(&o).unwrap();
        assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "{text}");
        assert!(text.contains(crate::redact::MASK), "{text}");
    }
}

#[test]
fn status_specs_parse_and_match() {
    for (input, code, want) in [
        (json!(200), 200, true),
        (json!("404"), 404, true),
        (json!("2xx"), 204, true),
        (json!("2XX"), 302, false),
        (json!("200-299"), 299, true),
        (json!("200-299"), 300, false),
    ] {
        let s: StatusSpec = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(s.matches(code), want, "{input} vs {code}");
        let shown = input.as_str().map_or_else(|| input.to_string(), str::to_string);
        assert_eq!(s.to_string(), shown.to_lowercase());
    }
    for bad in [json!("2x"), json!("6xx"), json!("299-200"), json!(42), json!("abc"), json!(true), json!("€")] {
        let err = serde_json::from_value::<StatusSpec>(bad.clone()).unwrap_err().to_string();
        assert!(err.contains("\"2xx\"") && err.contains("200-299"), "{bad}: {err}");
    }
    let err = serde_json::from_value::<StatusSpec>(json!("2x")).unwrap_err().to_string();
    assert!(err.starts_with("invalid status \"2x\"; write 200, \"2xx\" or \"200-299\""), "{err}");
}

#[test]
fn validate_names_the_field() {
    let ok = json!({"url": "https://example.com/"});
    for (patch, field) in [
        (json!({"method": "FETCH"}), "method"),
        (json!({"url": "not a url"}), "url"),
        (json!({"expect": {"body_regex": "("}}), "expect.body_regex"),
        (json!({"expect": {"json": {"version": 1}}}), "expect.json"),
        (json!({"expect": {"body_contains": "{{ release.nope }}"}}), "release.nope"),
        (json!({"headers": {"bad header": "x"}}), "headers"),
        (json!({"max_body": 0}), "max_body"),
    ] {
        let mut v = ok.clone();
        v.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        let p: HttpProbe = serde_json::from_value(v).unwrap();
        let err = p.validate().unwrap_err();
        assert!(err.contains(field), "{patch}: {err}");
    }
    let p: HttpProbe = serde_json::from_value(json!({"url": "https://{{ release.service }}.example.com/v"})).unwrap();
    assert_eq!(p.validate(), Ok(()));
    assert_eq!((p.method.as_str(), p.timeout()), ("GET", Duration::from_secs(10)));
    let unknown = serde_json::from_value::<HttpProbe>(json!({"url": "https://x/", "expect": {"stauts": [200]}}));
    assert!(unknown.unwrap_err().to_string().contains("stauts"));
}

#[test]
fn json_equality_rules() {
    for (want, got, eq) in [
        (json!("1.4.2"), json!("1.4.2"), true),
        (json!("7"), json!(7), true),
        (json!("true"), json!(true), true),
        (json!(1), json!(1.0), true),
        (json!(1), json!("1"), false),
        (json!("1.4.2"), json!("1.4.3"), false),
        (json!({"a": [1]}), json!({"a": [1]}), true),
        (json!(null), json!(null), true),
    ] {
        assert_eq!(json_equal(&want, &got), eq, "{want} vs {got}");
    }
}

fn release(service: &str, version: &str) -> RunContext {
    let release = ReleaseVars { service: service.into(), version: version.into(), ..ReleaseVars::default() };
    RunContext { release, ..Default::default() }
}

/// Issue 10, defect 5: a service `x@127.0.0.1:18900/ssrf-host/` or a version
/// `../../../admin/secret` sent the probe to another host and path.
#[test]
fn release_values_cannot_redirect_the_request() {
    let ssrf = "x@127.0.0.1:18900/ssrf-host/";
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, Result<&str, &str>)] = &[
        ("http://{{ release.service }}.internal.example/health", ssrf, "1", Err("cannot be in the host")),
        ("http://{{ release.service }}.internal.example/health", "api", "1", Ok("http://api.internal.example/health")),
        ("http://10.0.0.1:8080/svc/{{ release.service }}/health", ssrf, "1",
            Ok("http://10.0.0.1:8080/svc/x%40127.0.0.1%3A18900%2Fssrf-host%2F/health")),
        ("http://10.0.0.1:8080/releases/{{ release.version }}", "api", "../../../admin/secret",
            Ok("http://10.0.0.1:8080/releases/..%2F..%2F..%2Fadmin%2Fsecret")),
        ("http://10.0.0.1:8080/check?v={{ release.version }}&strict=1", "api", "1&strict=0#x",
            Ok("http://10.0.0.1:8080/check?v=1%26strict%3D0%23x&strict=1")),
        ("http://10.0.0.1:8080/releases/{{ release.version }}", "api", "..", Err("change the structure")),
    ];
    for (template, service, version, want) in cases {
        let p = probe(template.to_string(), json!({}));
        let got = p.prepare(&release(service, version)).map(|prep| prep.url.to_string());
        match (&got, want) {
            (Ok(u), Ok(w)) => assert_eq!(u, w, "{template} with {service:?}/{version:?}"),
            (Err(e), Err(piece)) => assert!(e.contains(piece), "{template}: {e}"),
            _ => panic!("{template} with {service:?}/{version:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn release_values_cannot_forge_headers_or_json_fields() {
    let p = probe(
        "http://10.0.0.1/post".into(),
        json!({"method": "POST", "headers": {"x-version": "{{ release.version }}"},
               "body": "{\"version\": \"{{ release.version }}\"}"}),
    );
    let forged = p.prepare(&release("api", "1\r\nx-admin: true")).err().unwrap_or_default();
    assert!(forged.starts_with("headers: x-version:") && forged.contains("control character"), "{forged}");

    let p = probe(
        "http://10.0.0.1/post".into(),
        json!({"method": "POST", "body": "{\"version\": \"{{ release.version }}\"}"}),
    );
    let version = r#"1","admin":true,"x":""#;
    let body = p.prepare(&release("api", version)).ok().and_then(|prep| prep.body).unwrap_or_default();
    let doc: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(doc, json!({ "version": version }), "{body}");
}

/// Issue 10, defect 7: a URL with credentials showed them in the evidence target and messages.
#[tokio::test]
async fn url_credentials_never_reach_evidence() {
    let base = serve().await;
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let rt = Runtime::new(Redactor::default());
    for (url, want) in [
        (base.replace("http://", "http://deploy-bot:hunter2-pass@") + "/ok", Status::Pass),
        (base.replace("http://", "http://deploy-bot:hunter2-pass@") + "/500", Status::Fail),
        (format!("http://deploy-bot:hunter2-pass@{refused}/"), Status::Error),
        (base.replace("http://", "http://hunter2-token@") + "/{{ release.nope }}", Status::Error),
    ] {
        let o = run(&probe(url.clone(), json!({})), &rt).await;
        assert_eq!(o.status, want, "{url}: {o:?}");
        let text = serde_json::to_string(&o).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("deploy-bot"), "{url}: {text}");
        assert!(o.evidence.target.as_deref().unwrap().contains("http://<redacted>@"), "{url}: {text}");
    }
}
