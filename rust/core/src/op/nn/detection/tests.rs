#[allow(unused_imports)]
use crate::op::test_util::*;
