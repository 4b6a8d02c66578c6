//! Webhook receiver (being written).
use std::collections::BTreeMap;

use super::{Context, Delivered, DeliveryError, Notification};

pub async fn send(
    _url: &str,
    _secret: Option<&str>,
    _headers: &BTreeMap<String, String>,
    _n: &Notification,
    _cx: &Context,
) -> Result<Delivered, DeliveryError> {
    Err(DeliveryError::Permanent("not implemented yet".into()))
}
