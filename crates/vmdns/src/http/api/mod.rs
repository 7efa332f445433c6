//! `/api/v1`: zones, IP pools, services and their lifecycle jobs, the module log. Every route needs a
//! bearer token (see [`super::auth`]).

use axum::Router;
use axum::routing::{get, post};

use crate::app::App;

mod jobs;
mod log;
mod pools;
mod services;
mod zones;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/zones", get(zones::list).post(zones::create))
        .route(
            "/zones/{id}",
            get(zones::get)
                .put(zones::update)
                .patch(zones::update)
                .delete(zones::delete),
        )
        .route("/zones/{id}/test", post(zones::test))
        .route("/pools", get(pools::list).post(pools::create))
        .route(
            "/pools/{id}",
            get(pools::get).put(pools::update).delete(pools::delete),
        )
        .route("/rdns-zone", get(pools::rdns_zone))
        .route("/services", get(services::list).post(services::create))
        .route(
            "/services/{id}",
            get(services::get)
                .put(services::update)
                .patch(services::update)
                .delete(services::delete),
        )
        .route("/services/{id}/records", get(services::records))
        .route("/services/{id}/plan", get(jobs::plan))
        .route("/services/{id}/{action}", post(jobs::enqueue))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/log", get(log::read))
        .route("/openapi.json", get(super::openapi::document))
}

/// Parses a path id, answering 404 for anything that is not a positive integer.
pub(crate) fn parse_id(what: &str, raw: &str) -> Result<i64, super::error::ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| super::error::ApiError::not_found(format!("{what} {raw} not found")))
}
