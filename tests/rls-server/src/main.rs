//! Test-only Envoy RLS v3 server: Kuadrant's `limitador` engine with its Redis storage behind
//! `envoy-types`' generated `RateLimitService`. Several processes pointed at one Redis share one
//! budget. Note: limitador 0.6's Redis storage reads, then increments (two round trips), so under
//! parallel calls it can admit a little over a limit; exact counts hold for sequential requests.
//!
//! Usage: `palisade-rls-server --listen 127.0.0.1:PORT --redis redis://127.0.0.1:PORT --limits FILE`
//! where FILE is a JSON list of limitador limits:
//! `[{"namespace":"palisade","max_value":5,"seconds":60,"name":"per-ip","conditions":[],"variables":["remote_address"]}]`
//! (`namespace` is the RLS domain; descriptor entries become the variables' values).

use envoy_types::pb::envoy::config::core::v3::HeaderValue;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    rate_limit::Unit, Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use limitador::counter::Counter;
use limitador::limit::{Limit, Namespace};
use limitador::storage::redis::AsyncRedisStorage;
use limitador::AsyncRateLimiter;
use std::collections::HashMap;
use tonic::{Request, Response, Status};

struct Service {
    limiter: AsyncRateLimiter,
}

fn unit_of(seconds: u64) -> Unit {
    match seconds {
        1 => Unit::Second,
        60 => Unit::Minute,
        3600 => Unit::Hour,
        86400 => Unit::Day,
        _ => Unit::Unknown,
    }
}

/// The descriptor status Envoy expects, from the counter closest to its limit.
fn status_of(counter: &Counter, limited: bool) -> DescriptorStatus {
    let remaining = counter.remaining().unwrap_or(counter.max_value()).max(0);
    let reset = counter.expires_in().unwrap_or_default();
    DescriptorStatus {
        code: if limited { Code::OverLimit } else { Code::Ok } as i32,
        current_limit: Some(RateLimit {
            name: counter.limit().name().unwrap_or_default().to_string(),
            requests_per_unit: u32::try_from(counter.max_value()).unwrap_or(u32::MAX),
            unit: unit_of(counter.seconds()) as i32,
        }),
        limit_remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        duration_until_reset: Some(PbDuration {
            seconds: i64::try_from(reset.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(reset.subsec_nanos()).unwrap_or(0),
        }),
        quota: None,
    }
}

#[tonic::async_trait]
impl RateLimitService for Service {
    async fn should_rate_limit(
        &self,
        request: Request<RateLimitRequest>,
    ) -> Result<Response<RateLimitResponse>, Status> {
        let req = request.into_inner();
        if req.domain.is_empty() {
            return Err(Status::invalid_argument("domain is empty"));
        }
        // Like limitador-server: every descriptor entry becomes one variable value.
        let values: HashMap<String, String> = req
            .descriptors
            .iter()
            .flat_map(|d| d.entries.iter())
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        let hits = i64::from(req.hits_addend.max(1));
        let namespace = Namespace::from(req.domain);
        let result = self
            .limiter
            .check_rate_limited_and_update(&namespace, &values, hits, true)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let tightest = result
            .counters
            .iter()
            .min_by_key(|c| c.remaining().unwrap_or(c.max_value()));
        let mut response = RateLimitResponse {
            overall_code: if result.limited { Code::OverLimit } else { Code::Ok } as i32,
            ..Default::default()
        };
        if let Some(counter) = tightest {
            let status = status_of(counter, result.limited);
            let header = |key: &str, value: String| HeaderValue {
                key: key.to_string(),
                value,
                ..Default::default()
            };
            response.response_headers_to_add = vec![
                header("x-rls-limit", counter.max_value().to_string()),
                header("x-rls-remaining", status.limit_remaining.to_string()),
            ];
            response.statuses = req.descriptors.iter().map(|_| status.clone()).collect();
        }
        Ok(Response::new(response))
    }
}

fn arg(args: &[String], name: &str) -> Result<String, String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .ok_or_else(|| format!("missing {name} <value>"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen: std::net::SocketAddr = arg(&args, "--listen")?.parse()?;
    let limits: Vec<Limit> = serde_json::from_slice(&std::fs::read(arg(&args, "--limits")?)?)?;
    let storage = AsyncRedisStorage::new(&arg(&args, "--redis")?).await?;
    let limiter = AsyncRateLimiter::new_with_storage(Box::new(storage));
    for limit in limits {
        limiter.add_limit(limit);
    }
    eprintln!("palisade-rls-server listening on {listen}");
    tonic::transport::Server::builder()
        .add_service(RateLimitServiceServer::new(Service { limiter }))
        .serve_with_shutdown(listen, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
