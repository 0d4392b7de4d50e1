//! [`ComponentHandle`]: how runners and routes hold a component, so that a reload can swap
//! it as a whole while calls in flight finish on the one they started with.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::GuestComponent;

/// A component as runners and routes hold it: swapped as a whole by a reload.
pub type ComponentHandle = Arc<ArcSwap<GuestComponent>>;

/// A new handle holding `component`.
pub fn handle(component: GuestComponent) -> ComponentHandle {
    Arc::new(ArcSwap::from_pointee(component))
}
