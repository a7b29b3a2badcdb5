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
        let lo = (-win.left).clamp(0, ow as i64) as usize;
        let hi = ((iw - win.left).clamp(0, ow as i64) as usize).max(lo);
        // One output row gathered as HWC bytes (pad and mirror resolved), then normalized
        // channel by channel.
        let mut row = vec![self.fill; ow * c];
        for y in 0..oh {
            let sy = win.top + y as i64;
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

    #[test]
    fn window_inside_the_image_is_a_crop() {
        let (h, w, c) = (5, 6, 3);
        let px = image(h, w, c);
        let mean = vec![0.0; c * 3 * 4];
        let norm = Normalizer {
            channels: c,
            height: 3,
            width: 4,
            fill: 255,
            mean: &mean,
            mult: &[1.0; 3],
        };
        let mut out = vec![0.0; c * 12];
        let win = Window {
            pixels: &px,
            height: h,
            width: w,
            top: 1,
            left: 2,
            mirror: false,
            jitter: None,
        };
        norm.run(&win, &mut out).unwrap();
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
        let mean = vec![0.0; 9];
        let norm = Normalizer {
            channels: 1,
            height: 3,
            width: 3,
            fill: 9,
            mean: &mean,
            mult: &[1.0],
        };
        let mut out = vec![0.0; 9];
        let win = Window {
            pixels: &px,
            height: 2,
            width: 2,
            top: -1,
            left: 0,
            mirror: true,
            jitter: None,
        };
        norm.run(&win, &mut out).unwrap();
        let p = |i: usize| px[i] as f32;
        assert_eq!(out, vec![9.0, 9.0, 9.0, 9.0, p(1), p(0), 9.0, p(3), p(2)]);
    }

    #[test]
    fn normalizes_in_mxnet_order() {
        let px = vec![200u8, 10];
        let mean = vec![100.0, 50.0];
        let norm = Normalizer {
            channels: 2,
            height: 1,
            width: 1,
            fill: 0,
            mean: &mean,
            mult: &[0.5, 2.0],
        };
        let mut out = vec![0.0; 2];
        let win = Window {
            pixels: &px,
            height: 1,
            width: 1,
            top: 0,
            left: 0,
            mirror: false,
            jitter: Some((1.5, -3.0)),
        };
        norm.run(&win, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                ((200.0 - 100.0) * 1.5 - 3.0) * 0.5,
                ((10.0 - 50.0) * 1.5 - 3.0) * 2.0
            ]
        );
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let px = image(2, 2, 3);
        let mean = vec![0.0; 3];
        let norm = Normalizer {
            channels: 3,
            height: 1,
            width: 1,
            fill: 0,
            mean: &mean,
            mult: &[1.0; 3],
        };
        let mut out = vec![0.0; 3];
        let win = Window {
            pixels: &px,
            height: 2,
            width: 3,
            top: 0,
            left: 0,
            mirror: false,
            jitter: None,
        };
        assert!(norm.run(&win, &mut out).is_err());
        let short = Normalizer {
            mean: &mean[..2],
            ..norm
        };
        let win = Window { width: 2, ..win };
        assert!(short.run(&win, &mut out).is_err());
    }
}
