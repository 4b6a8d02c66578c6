//! Slack receiver (being written).
use super::{Context, Delivered, DeliveryError, Notification};

pub async fn send(_url: &str, _n: &Notification, _cx: &Context) -> Result<Delivered, DeliveryError> {
    Err(DeliveryError::Permanent("not implemented yet".into()))
}
