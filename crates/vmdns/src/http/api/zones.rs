//! `/zones`: list, create, get, update, delete, test connection. Secrets are masked in every answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::parse_id;
use crate::admin::{self, ZoneBody};
use crate::app::App;
use crate::http::error::{ApiResult, Json};
use crate::views::ZoneView;

pub(super) async fn list(State(app): State<App>) -> ApiResult<Json<Vec<ZoneView>>> {
    Ok(Json(
        app.store
            .list_zones()
            .await?
            .iter()
            .map(ZoneView::from)
            .collect(),
    ))
}

pub(super) async fn create(
    State(app): State<App>,
    Json(body): Json<ZoneBody>,
) -> ApiResult<(StatusCode, Json<ZoneView>)> {
    let zone = admin::create_zone(&app, body).await?;
    tracing::info!(zone_id = zone.id, zone = %zone.name, provider = %zone.provider, "zone created");
    Ok((StatusCode::CREATED, Json(ZoneView::from(&zone))))
}

pub(super) async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<ZoneView>> {
    let id = parse_id("zone", &id)?;
    Ok(Json(ZoneView::from(&app.store.get_zone(id).await?)))
}

pub(super) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(body): Json<ZoneBody>,
) -> ApiResult<Json<ZoneView>> {
    let id = parse_id("zone", &id)?;
    let zone = admin::update_zone(&app, id, body).await?;
    tracing::info!(zone_id = zone.id, zone = %zone.name, "zone updated");
    Ok(Json(ZoneView::from(&zone)))
}

pub(super) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id("zone", &id)?;
    app.store.delete_zone(id).await?;
    tracing::info!(zone_id = id, "zone deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub(super) struct TestResult {
    ok: bool,
    message: String,
}

pub(super) async fn test(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<TestResult>> {
    let id = parse_id("zone", &id)?;
    let zone = app.store.get_zone(id).await?;
    let (ok, message) = admin::test_zone(&app, &zone).await;
    Ok(Json(TestResult { ok, message }))
}
