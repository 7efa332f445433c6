//! `/services`: the VMs whose DNS vmdns keeps.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::parse_id;
use crate::admin::{self, ServiceBody};
use crate::app::App;
use crate::http::error::{ApiResult, Json};
use crate::store::RecordStatus;
use crate::views::ServiceView;

pub(super) async fn list(State(app): State<App>) -> ApiResult<Json<Vec<ServiceView>>> {
    Ok(Json(
        app.store
            .list_services()
            .await?
            .iter()
            .map(ServiceView::from)
            .collect(),
    ))
}

pub(super) async fn create(
    State(app): State<App>,
    Json(body): Json<ServiceBody>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    let s = admin::create_service(&app, &body).await?;
    Ok((StatusCode::CREATED, Json(ServiceView::from(&s))))
}

pub(super) async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceView>> {
    let id = parse_id("service", &id)?;
    Ok(Json(ServiceView::from(&app.store.get_service(id).await?)))
}

pub(super) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(body): Json<ServiceBody>,
) -> ApiResult<Json<ServiceView>> {
    let id = parse_id("service", &id)?;
    Ok(Json(ServiceView::from(
        &admin::update_service(&app, id, &body).await?,
    )))
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

pub(super) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<StatusCode> {
    let id = parse_id("service", &id)?;
    let Query(q) = query?;
    app.store.delete_service(id, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub(super) struct RecordsView {
    /// The records the service should have, per matching zone.
    desired: Vec<DesiredRecord>,
    /// The last outcome of each record in each zone.
    status: Vec<RecordStatus>,
}

#[derive(Debug, Serialize)]
struct DesiredRecord {
    zone_id: i64,
    zone: String,
    provider: String,
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    content: Vec<String>,
}

/// The desired records per matching zone and the status matrix.
pub(super) async fn records(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordsView>> {
    let id = parse_id("service", &id)?;
    let service = app.store.get_service(id).await?;
    let zones = app.store.list_zones().await?;
    let names: Vec<_> = zones.iter().map(|z| z.name.clone()).collect();
    let assigned = vmdns_core::assign_to_zones(&service.vm_spec(), &names)
        .map_err(|e| crate::admin::AdminError::invalid(e.field, e.source.to_string()))?;
    let mut desired = Vec::new();
    for (zone, rrsets) in zones.iter().zip(assigned) {
        for r in rrsets {
            desired.push(DesiredRecord {
                zone_id: zone.id,
                zone: zone.name.to_string(),
                provider: zone.provider.to_string(),
                name: r.name.to_string(),
                rtype: r.rtype.to_string(),
                ttl: r.ttl,
                content: r.records.into_iter().collect(),
            });
        }
    }
    Ok(Json(RecordsView {
        desired,
        status: app.store.record_status(id).await?,
    }))
}
