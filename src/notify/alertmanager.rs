//! Alertmanager receiver (being written).
use super::{Context, Delivered, DeliveryError, Notification};
use crate::config::Notifier;
use crate::probe::source::SourceClient;

pub async fn send(
    _src: &SourceClient,
    _kind: &Notifier,
    _n: &Notification,
    _cx: &Context,
) -> Result<Delivered, DeliveryError> {
    Err(DeliveryError::Permanent("not implemented yet".into()))
}
