//! [`ProviderError`]: the one error type of every provider, with variants a caller can act on.

use std::time::Duration;

/// Every provider converts its own failures into this. Messages keep the provider's exact words (operators
/// see them in the toast and the log) and never contain a secret or a URL with a key in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Credentials were refused.
    #[error("authentication failed: {message}")]
    Auth { message: String },
    /// The zone does not exist at the provider.
    #[error("{message}")]
    ZoneNotFound { message: String },
    /// The zone id or credentials point at a zone of another name.
    #[error("zone name mismatch: configured {expected}, the provider has {found}")]
    ZoneMismatch { expected: String, found: String },
    /// The provider refused the request as such; repeating it will not help.
    #[error("rejected by the provider: {message}")]
    Rejected { message: String },
    /// Too many requests; try again after `retry_after` when given.
    #[error("rate limited by the provider{}: {message}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Timeouts, connection errors, 5xx, malformed answers: may work on a later try.
    #[error("provider unavailable: {message}")]
    Transient { message: String },
}

impl ProviderError {
    /// True when the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }

    /// A short machine-readable name of the variant, for metrics and the module log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Auth { .. } => "auth",
            Self::ZoneNotFound { .. } => "zone_not_found",
            Self::ZoneMismatch { .. } => "zone_mismatch",
            Self::Rejected { .. } => "rejected",
            Self::RateLimited { .. } => "rate_limited",
            Self::Transient { .. } => "transient",
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
        }
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_only_for_transient_and_rate_limits() {
        assert!(ProviderError::transient("x").is_retryable());
        assert!(
            ProviderError::RateLimited {
                retry_after: None,
                message: "x".into()
            }
            .is_retryable()
        );
        assert!(!ProviderError::rejected("x").is_retryable());
        assert!(
            !ProviderError::Auth {
                message: "x".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn rate_limit_message_says_when() {
        let e = ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            message: "Please wait".into(),
        };
        assert_eq!(
            e.to_string(),
            "rate limited by the provider (retry after 30s): Please wait"
        );
    }
}
