//! (in progress)

use crate::op::Registry;

pub fn register(_r: &mut Registry) {}
