//! Every `/api/v1` route needs a valid bearer token, and answers 401 with a JSON error that says nothing
//! about the resource otherwise. The OpenAPI document describes exactly the routes the server has.

use std::collections::BTreeSet;

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use crate::helpers::{ROUTES, spawn_app};

#[tokio::test]
async fn every_route_refuses_a_missing_or_bad_token() {
    let app = spawn_app().await;
    // Real resources behind the ids, so a leak would show.
    let zone = app
        .create_zone(
            "hidden-zone.example",
            "powerdns",
            json!({"server_url": "http://127.0.0.1:1", "api_key": "auth-test-key"}),
        )
        .await;
    let service = app
        .create_service("hidden-vm", "hidden-zone.example", &[("192.0.2.77", None)])
        .await;
    let job = app.enqueue(service, "set-dns-records").await;
    assert_eq!((zone, service, job), (1, 1, 1), "ids the routes below use");

    let (revoked_id, revoked) = app
        .app
        .store
        .create_token("revoked")
        .await
        .expect("create a token");
    app.app
        .store
        .revoke_token(revoked_id)
        .await
        .expect("revoke it");
    let bad_headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer not-a-token".into()),
        Some(format!("Bearer {}x", app.token)),
        Some(format!("Bearer {revoked}")),
        Some(app.token.clone()),
        Some(format!("Basic {}", app.token)),
        Some(format!("Token {}", app.token)),
    ];

    for (method, template) in ROUTES {
        let path = template.replace("{id}", "1");
        let query = if path == "/rdns-zone" {
            "?prefix=192.0.2.0/24"
        } else {
            ""
        };
        for header in &bad_headers {
            let method: Method = method.parse().expect("method");
            let mut req = app
                .client
                .request(method.clone(), app.api(&format!("{path}{query}")));
            if let Some(h) = header {
                req = req.header(AUTHORIZATION, h);
            }
            if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
                req = req.json(&json!({"name": "x"}));
            }
            let reply = app.read(req.send().await.expect("answer")).await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{method} {path} with {header:?}: {}",
                reply.text
            );
            let body: Value = reply.json();
            assert_eq!(
                body,
                json!({"error": "missing or invalid bearer token"}),
                "{method} {path}"
            );
            for hidden in ["hidden", "192.0.2.77", "auth-test-key"] {
                assert!(
                    !reply.text.contains(hidden),
                    "{method} {path} leaks {hidden}"
                );
            }
        }
    }

    // Nothing was changed by the refused requests.
    let zones = app.get("/zones").await.expect(200);
    assert_eq!(zones.as_array().map(Vec::len), Some(1));
    let job = app.job(job).await;
    assert_eq!(job["state"], "queued");
}

#[tokio::test]
async fn a_valid_token_opens_every_route() {
    let app = spawn_app().await;
    for (method, template) in ROUTES {
        let path = template.replace("{id}", "999");
        let method: Method = method.parse().expect("method");
        let body = json!({});
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then_some(&body);
        let reply = app.call(method.clone(), &path, body).await;
        assert_ne!(reply.status.as_u16(), 401, "{method} {path}");
        assert!(
            reply.status.as_u16() < 500,
            "{method} {path}: {}",
            reply.text
        );
    }
}

/// Collects every `$ref` of a JSON document.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let reply = app.get("/openapi.json").await;
    let doc = reply.expect(200);
    assert!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));

    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("401"),
                "{method} {path} does not document 401"
            );
            assert!(
                op["operationId"].as_str().is_some(),
                "{method} {path} has no operationId"
            );
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path} has no success answer"
            );
            if path.contains("{id}") {
                let params = op["parameters"]
                    .as_array()
                    .or_else(|| item["parameters"].as_array())
                    .cloned()
                    .unwrap_or_default();
                let mut all = Vec::new();
                refs(&Value::Array(params.clone()), &mut all);
                assert!(
                    params.iter().any(|p| p["name"] == "id")
                        || all.iter().any(|r| r.ends_with("/Id")),
                    "{method} {path} does not declare the id parameter"
                );
            }
            if matches!(method.as_str(), "post" | "put" | "patch")
                && !path.ends_with("/test")
                && !path.starts_with("/services/{id}/")
            {
                assert!(
                    op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} has no JSON request body"
                );
            }
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented.difference(&routes).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );
    assert_eq!(
        routes.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not documented"
    );

    // Every reference resolves, and the error shape is the one the server sends.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error"]));
    assert!(error["properties"]["error"].is_object());
    assert!(error["properties"]["field"].is_object());
}
