//! What every HTTP route shares: a request id in every response, and the metrics exposition.

use madoguchi_tests::Harness;

/// GET `path`, optionally sending an `x-request-id`: the status, the response's `x-request-id`
/// and `content-type`, and the body.
fn get(base: &str, path: &str, request_id: Option<&str>) -> (u16, Option<String>, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(format!("{base}{path}"));
        if let Some(id) = request_id {
            req = req.header("x-request-id", id);
        }
        let r = req.send().await.expect("GET");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
        let (id, ctype) = (header("x-request-id"), header("content-type").unwrap_or_default());
        (r.status().as_u16(), id, ctype, r.text().await.expect("body"))
    })
}

#[test]
fn every_response_names_its_request_and_a_clients_own_id_is_kept() {
    let h = Harness::start(&[]);
    let (sa, ida, ..) = get(&h.base(), "/healthz", None);
    let (sb, idb, ..) = get(&h.base(), "/no/such/page", None);
    assert_eq!((sa, sb), (200, 404));
    let (ida, idb) = (ida.expect("an id on a 200"), idb.expect("an id on a 404"));
    assert_eq!(ida.len(), 36, "a UUID: {ida}");
    assert_ne!(ida, idb, "each request its own");
    let (_, mine, ..) = get(&h.base(), "/healthz", Some("trace-me-42"));
    assert_eq!(mine.as_deref(), Some("trace-me-42"));
}

#[test]
fn metrics_are_openmetrics_text_listing_every_refusal_reason() {
    let h = Harness::start(&[]);
    let (status, _, ctype, text) = get(&h.server.ops_base(), "/metrics", None);
    assert_eq!(status, 200);
    // Not on the public listener: who is connected and how busy the office is stays internal.
    assert_eq!(get(&h.base(), "/metrics", None).0, 404);
    assert_eq!(get(&h.server.ops_base(), "/healthz", None).0, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE madoguchi_tick_duration_seconds histogram"), "{text}");
    assert_eq!(h.metric("madoguchi_refused_messages_total{reason=\"protocol_mismatch\"}"), 0.0);
    assert!(h.metric("process_resident_memory_bytes") > 1e6);
}
