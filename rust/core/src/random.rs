//! Seeded random streams per context (`mx.random.seed`). An op draws one 64-bit sub-seed at
//! push time, in program order, so results do not depend on how the engine schedules it.

use crate::context::Context;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Generators {
    state: Mutex<(u64, HashMap<Context, u64>)>,
}

pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Generators {
    pub fn new() -> Self {
        Generators {
            state: Mutex::new((0, HashMap::new())),
        }
    }

    /// Seeds every context (`ctx=None`) or one.
    pub fn seed(&self, seed: u64, ctx: Option<Context>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match ctx {
            None => {
                st.0 = seed;
                st.1.clear();
            }
            Some(c) => {
                st.1.insert(c, seed ^ 0x5851_F42D_4C95_7F2D);
            }
        }
    }

    /// Next sub-seed for an op on `ctx`.
    pub fn next(&self, ctx: Context) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let base = st.0;
        let s = st.1.entry(ctx).or_insert_with(|| {
            let mut x = base ^ ((ctx.dev_type.code() as u64) << 32 | ctx.dev_id as u64);
            splitmix64(&mut x)
        });
        splitmix64(s)
    }
}

impl Default for Generators {
    fn default() -> Self {
        Self::new()
    }
}

/// xoshiro256++: the per-block generator kernels use (fast, good statistical quality).
pub struct Xoshiro([u64; 4]);

impl Xoshiro {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Xoshiro([
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ])
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
