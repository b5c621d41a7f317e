//! The epoch builtin: the store's deadline passed.

use super::{BuiltinCx, Failure};
use crate::store::UpdateDeadline;

pub(crate) fn epoch_interrupt(cx: &mut BuiltinCx<'_>) -> Result<(), Failure> {
    match cx.store.epoch_deadline_reached() {
        Ok(UpdateDeadline::Continue(ticks)) => {
            // The code reloads the deadline from the store context after this call.
            cx.store
                .opaque_mut()
                .set_epoch_deadline(ticks)
                .map_err(|e| Failure::Host(Box::new(e)))
        }
        Ok(UpdateDeadline::Interrupt) => Err(Failure::Trap),
        Err(e) => Err(Failure::Host(e)),
    }
}
