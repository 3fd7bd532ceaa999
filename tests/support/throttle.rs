//! A proxy in front of the emulator that answers chosen DynamoDB requests with
//! `ProvisionedThroughputExceededException`, to test retries and what happens when they run out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

/// Counters shared with the test.
#[derive(Default)]
pub struct Throttle {
    /// Write requests (PutItem, TransactWriteItems) still to refuse.
    pub refuse_writes: AtomicUsize,
    /// Write requests refused so far.
    pub refused: AtomicUsize,
}

struct Proxy {
    upstream: String,
    throttle: Arc<Throttle>,
    http: reqwest::Client,
}

/// Starts the proxy; returns its endpoint.
pub async fn start(upstream: &str, throttle: Arc<Throttle>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let state = Arc::new(Proxy {
        upstream: upstream.to_string(),
        throttle,
        http: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let write = target.ends_with(".PutItem") || target.ends_with(".TransactWriteItems");
    if write
        && p.throttle
            .refuse_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        p.throttle.refused.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"throttled by the test proxy"}"#;
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("content-type", "application/x-amz-json-1.0")
            .body(Body::from(body))
            .unwrap();
    }
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map_or("/", |x| x.as_str())
    );
    let mut req = p.http.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        url,
    );
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k.as_str(), v.as_bytes());
        }
    }
    let r = req.body(body).send().await.unwrap();
    let mut out = Response::builder().status(r.status().as_u16());
    for (k, v) in r.headers() {
        if k != "content-length" && k != "transfer-encoding" {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    out.body(Body::from(r.bytes().await.unwrap())).unwrap()
}
