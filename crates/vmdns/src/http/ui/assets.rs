//! The UI's static files, embedded in the binary: one stylesheet, one script, one icon. Served without a
//! session (the login page needs them); nothing else is reachable under `/assets/`.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../../assets/app.css");
const JS: &str = include_str!("../../../assets/app.js");
const ICON: &str = include_str!("../../../assets/icon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.css" => asset("text/css; charset=utf-8", CSS),
        "app.js" => asset("text/javascript; charset=utf-8", JS),
        "icon.svg" => asset("image/svg+xml", ICON),
        _ => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

pub(crate) async fn favicon() -> Response {
    asset("image/svg+xml", ICON)
}
