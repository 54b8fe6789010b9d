//! The truth of a run, from the mocks' books ([`Books`], read over HTTP by the
//! driver's reader): every upstream call the target made, with its exact usage,
//! content digest, outcome and the correlation id it carried.
//!
//! A check marks the books before it drives load, waits for the mocks to finish
//! what they were serving, then reads every call since the mark and attributes
//! calls to the requests the driver sent ([`attribute`]). Nothing here asks the
//! target anything: truth needs no cooperation.

mod attribute;

pub use attribute::{Attribution, CLOCK_SLACK_MS, attribute};
pub use gatebench_driver::books::{Books, Mark, Window};
