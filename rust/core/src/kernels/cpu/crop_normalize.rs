//! The last step of ImageRecordIter for each sample: a window of a uint8 HWC image (the
//! random or centered crop, reaching past the edges where MXNet's `pad` fills), optionally
//! mirrored, written as float32 CHW `((pixel - mean) * gain + shift) * mult`. For recipes of
//! pad, crop and mirror only (CIFAR's, MNIST's) this replaces the whole numpy augmentation,
//! whose per-call costs were most of a small image's time.

use crate::error::{Error, Result};

const OP: &str = "image_crop_normalize";

/// What every sample of a batch shares: the output size, the pad value and the normalizer.
pub struct Normalizer<'a> {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// The value of pixels outside the image.
    pub fill: u8,
    /// Subtracted per output element: (channels, height, width).
    pub mean: &'a [f32],
    /// Applied per channel last (MXNet's scale / std).
    pub mult: &'a [f32],
}

/// One sample: its image and where the output window lies in it.
pub struct Window<'a> {
    /// (height, width, channels) uint8, C-contiguous.
    pub pixels: &'a [u8],
    pub height: usize,
    pub width: usize,
    /// The window's top-left corner in the image; negative, or far enough right or down
    /// that the window leaves the image, where the pad shows.
    pub top: i64,
    pub left: i64,
    pub mirror: bool,
    /// MXNet's random contrast and illumination, None without them (so that no rounding of
    /// `* 1 + 0` can differ from the plain subtraction).
    pub jitter: Option<(f32, f32)>,
}

impl Normalizer<'_> {
    fn check(&self) -> Result<()> {
        let (c, h, w) = (self.channels, self.height, self.width);
        if self.mean.len() != c * h * w || self.mult.len() != c {
            return Err(Error::shape(
                OP,
                format!(
                    "mean has {} values and mult {}, the output is {c}x{h}x{w} (channels x height x width)",
                    self.mean.len(),
                    self.mult.len()
                ),
            ));
        }
        Ok(())
    }

    /// Writes `win` into `out`, (channels, height, width) float32.
    pub fn run(&self, win: &Window<'_>, out: &mut [f32]) -> Result<()> {
        self.check()?;
        let (c, oh, ow) = (self.channels, self.height, self.width);
        if win.pixels.len() != win.height * win.width * c || out.len() != c * oh * ow {
            return Err(Error::shape(
                OP,
                format!(
                    "an image of {} bytes is not {}x{}x{c}, or the output of {} values is not {c}x{oh}x{ow}",
                    win.pixels.len(),
                    win.height,
                    win.width,
                    out.len()
                ),
            ));
        }
        match c {
            0 => {} // nothing to write
            1 => self.rows::<1>(win, out),
            3 => self.rows::<3>(win, out),
            4 => self.rows::<4>(win, out),
            _ => self.rows::<0>(win, out),
        }
        Ok(())
    }
}

impl Normalizer<'_> {
    /// The rows of `run` for `C` channels (0: `self.channels`, not known at compile time).
    fn rows<const C: usize>(&self, win: &Window<'_>, out: &mut [f32]) {
        let c = if C > 0 { C } else { self.channels };
        let (oh, ow) = (self.height, self.width);
        let (ih, iw) = (win.height as i64, win.width as i64);
        // Output columns whose source column left + x lies in the image.
        let lo = win.left.saturating_neg().clamp(0, ow as i64) as usize;
        let hi = (iw.saturating_sub(win.left).clamp(0, ow as i64) as usize).max(lo);
        // One output row gathered as HWC bytes (pad and mirror resolved), then normalized
        // channel by channel.
        let mut row = vec![self.fill; ow * c];
        for y in 0..oh {
            let sy = win.top.saturating_add(y as i64);
            if !(0..ih).contains(&sy) {
                row.fill(self.fill);
            } else if hi > lo {
                let first = (sy * iw + win.left + lo as i64) as usize * c;
                let span = &win.pixels[first..first + (hi - lo) * c];
                if win.mirror {
                    for (k, px) in span.chunks_exact(c).enumerate() {
                        let dx = (ow - 1 - lo - k) * c;
                        row[dx..dx + c].copy_from_slice(px);
                    }
                } else {
                    row[lo * c..hi * c].copy_from_slice(span);
                }
            }
            for (ch, &mult) in self.mult.iter().enumerate() {
                let at = ch * oh * ow + y * ow;
                let (dst, mean) = (&mut out[at..at + ow], &self.mean[at..at + ow]);
                match win.jitter {
                    None => {
                        for x in 0..ow {
                            dst[x] = (row[x * c + ch] as f32 - mean[x]) * mult;
                        }
                    }
                    Some((gain, shift)) => {
                        for x in 0..ow {
                            dst[x] = ((row[x * c + ch] as f32 - mean[x]) * gain + shift) * mult;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(h: usize, w: usize, c: usize) -> Vec<u8> {
        (0..h * w * c).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn norm<'a>(
        shape: (usize, usize, usize),
        fill: u8,
        mean: &'a [f32],
        mult: &'a [f32],
    ) -> Normalizer<'a> {
        let (channels, height, width) = shape;
        Normalizer {
            channels,
            height,
            width,
            fill,
            mean,
            mult,
        }
    }

    fn window(
        pixels: &[u8],
        (height, width): (usize, usize),
        (top, left): (i64, i64),
        mirror: bool,
    ) -> Window<'_> {
        Window {
            pixels,
            height,
            width,
            top,
            left,
            mirror,
            jitter: None,
        }
    }

    #[test]
    fn window_inside_the_image_is_a_crop() {
        let (h, w, c) = (5, 6, 3);
        let px = image(h, w, c);
        let mean = vec![0.0; c * 3 * 4];
        let mut out = vec![0.0; c * 12];
        norm((c, 3, 4), 255, &mean, &[1.0; 3])
            .run(&window(&px, (h, w), (1, 2), false), &mut out)
            .unwrap();
        for ch in 0..c {
            for y in 0..3 {
                for x in 0..4 {
                    assert_eq!(
                        out[ch * 12 + y * 4 + x],
                        px[((1 + y) * w + 2 + x) * c + ch] as f32
                    );
                }
            }
        }
    }

    #[test]
    fn pad_fills_and_mirror_flips_the_window() {
        let px = image(2, 2, 1);
        let mut out = vec![0.0; 9];
        norm((1, 3, 3), 9, &[0.0; 9], &[1.0])
            .run(&window(&px, (2, 2), (-1, 0), true), &mut out)
            .unwrap();
        let p = |i: usize| px[i] as f32;
        assert_eq!(out, vec![9.0, 9.0, 9.0, 9.0, p(1), p(0), 9.0, p(3), p(2)]);
    }

    #[test]
    fn normalizes_in_mxnet_order() {
        let px = [200u8, 10];
        let win = Window {
            jitter: Some((1.5, -3.0)),
            ..window(&px, (1, 1), (0, 0), false)
        };
        let mut out = vec![0.0; 2];
        norm((2, 1, 1), 0, &[100.0, 50.0], &[0.5, 2.0])
            .run(&win, &mut out)
            .unwrap();
        let want = [
            ((200.0 - 100.0) * 1.5 - 3.0) * 0.5,
            ((10.0 - 50.0) * 1.5 - 3.0) * 2.0,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn windows_far_outside_are_all_pad() {
        let px = image(2, 3, 1);
        let mut out = vec![0.0; 4];
        for corner in [
            (i64::MIN, i64::MIN),
            (i64::MAX, 0),
            (0, i64::MAX),
            (-5, 1),
            (1, -9),
        ] {
            for mirror in [false, true] {
                norm((1, 2, 2), 4, &[0.0; 4], &[1.0])
                    .run(&window(&px, (2, 3), corner, mirror), &mut out)
                    .unwrap();
                assert_eq!(out, vec![4.0; 4], "{corner:?}");
            }
        }
        // no channels: nothing to write, and no division of the rows by zero
        norm((0, 2, 2), 4, &[], &[])
            .run(&window(&[], (2, 3), (0, 0), true), &mut [])
            .unwrap();
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let px = image(2, 2, 3);
        let mut out = vec![0.0; 3];
        let ok = norm((3, 1, 1), 0, &[0.0; 3], &[1.0; 3]);
        assert!(ok
            .run(&window(&px, (2, 3), (0, 0), false), &mut out)
            .is_err());
        let short_mean = norm((3, 1, 1), 0, &[0.0; 2], &[1.0; 3]);
        assert!(short_mean
            .run(&window(&px, (2, 2), (0, 0), false), &mut out)
            .is_err());
        assert!(ok
            .run(&window(&px, (2, 2), (0, 0), false), &mut out)
            .is_ok());
    }
}
