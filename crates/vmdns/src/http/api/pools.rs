//! `/pools` and `/rdns-zone`: IP pools with their reverse-zone hint, and the hint alone for live forms.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::parse_id;
use crate::admin::{self, PoolBody};
use crate::app::App;
use crate::http::error::{ApiError, ApiResult, Json};
use crate::views::{HintView, PoolView};

pub(super) async fn list(State(app): State<App>) -> ApiResult<Json<Vec<PoolView>>> {
    Ok(Json(
        app.store
            .list_pools()
            .await?
            .iter()
            .map(PoolView::from)
            .collect(),
    ))
}

pub(super) async fn create(
    State(app): State<App>,
    Json(body): Json<PoolBody>,
) -> ApiResult<(StatusCode, Json<PoolView>)> {
    let pool = admin::create_pool(&app, &body).await?;
    Ok((StatusCode::CREATED, Json(PoolView::from(&pool))))
}

pub(super) async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<PoolView>> {
    let id = parse_id("pool", &id)?;
    Ok(Json(PoolView::from(&app.store.get_pool(id).await?)))
}

pub(super) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(body): Json<PoolBody>,
) -> ApiResult<Json<PoolView>> {
    let id = parse_id("pool", &id)?;
    Ok(Json(PoolView::from(
        &admin::update_pool(&app, id, &body).await?,
    )))
}

pub(super) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id("pool", &id)?;
    app.store.delete_pool(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct HintQuery {
    prefix: Option<String>,
}

pub(super) async fn rdns_zone(
    query: Result<Query<HintQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<HintView>> {
    let Query(q) = query?;
    let prefix = q.prefix.ok_or_else(|| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "prefix",
            "is required (ADDRESS/LENGTH)",
        )
    })?;
    let net = admin::parse_prefix(&prefix)?;
    Ok(Json(vmdns_core::reverse_zone(net).into()))
}
