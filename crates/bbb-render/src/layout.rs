//! Where the slides and the webcams go in the output picture.

use std::fmt;
use std::str::FromStr;

/// Output picture size in pixels. Even numbers only, because H.264/VP9 in yuv420p need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const HD: Size = Size { width: 1280, height: 720 };
}

impl Default for Size {
    fn default() -> Self {
        Size::HD
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Size {
    type Err = String;

    /// `1280x720` (also `1280×720`), as the CLI's `--size` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a size like 1280x720 (even numbers from 64 to 7680)");
        let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
        let (width, height): (u32, u32) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
        let ok = |v: u32| (64..=7680).contains(&v) && v % 2 == 0;
        if !ok(width) || !ok(height) {
            return Err(bad());
        }
        Ok(Size { width, height })
    }
}

/// What the output shows. Users ask for the webcam beside (not over) the slides, and for the webcam alone when
/// there is nothing to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Webcam beside the slides when the recording has webcam video, else slides only.
    #[default]
    Auto,
    /// Slides (and screen sharing) over the whole picture; the webcams' sound is kept.
    Presentation,
    /// Slides on the left, webcam in a column on the right.
    PresentationWebcam,
    /// The webcam video over the whole picture.
    WebcamOnly,
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Layout::Auto),
            "presentation" => Ok(Layout::Presentation),
            "presentation+webcam" | "presentation-webcam" | "side-by-side" => Ok(Layout::PresentationWebcam),
            "webcam-only" | "webcam" => Ok(Layout::WebcamOnly),
            other => Err(format!(
                "unknown layout `{other}`; expected auto, presentation, presentation+webcam or webcam-only"
            )),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Auto => "auto",
            Layout::Presentation => "presentation",
            Layout::PresentationWebcam => "presentation+webcam",
            Layout::WebcamOnly => "webcam-only",
        })
    }
}

/// An integer rectangle of the output picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Area {
    /// The largest `w`×`h`-proportioned rectangle centred in this one, with even sizes and offsets so that
    /// ffmpeg's scaled video lands on the same pixels as the frame renderer's placeholder.
    pub fn fit(&self, w: f64, h: f64) -> Area {
        if !(w > 0.0 && h > 0.0) {
            return *self;
        }
        let s = (f64::from(self.width) / w).min(f64::from(self.height) / h);
        let even = |v: f64| ((v / 2.0).floor() as u32 * 2).max(2);
        let (fw, fh) = (even(w * s).min(self.width), even(h * s).min(self.height));
        Area {
            x: self.x + (self.width - fw) / 2 / 2 * 2,
            y: self.y + (self.height - fh) / 2 / 2 * 2,
            width: fw,
            height: fh,
        }
    }
}

/// What shows around a webcam picture of another shape than its area (ffmpeg colour syntax). The video and the
/// stills of `render --frame` must use the same.
pub(crate) const WEBCAM_PAD: &str = "0x202020";
/// Around a shared screen of another shape than the slide area.
pub(crate) const DESKSHARE_PAD: &str = "black";

/// The resolved layout: which part of the picture the slides and the webcam occupy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub size: Size,
    /// Where slides, annotations, cursor and screen sharing are drawn; `None` with `webcam-only`.
    pub slides: Option<Area>,
    /// Where the webcam video goes; `None` when not shown.
    pub webcam: Option<Area>,
}

impl Areas {
    /// `has_webcam_video`: whether the recording has a webcams file with a picture (decides `auto`).
    pub fn resolve(layout: Layout, size: Size, has_webcam_video: bool) -> Areas {
        let full = Area { x: 0, y: 0, width: size.width, height: size.height };
        let layout = match layout {
            Layout::Auto if has_webcam_video => Layout::PresentationWebcam,
            Layout::Auto => Layout::Presentation,
            Layout::PresentationWebcam | Layout::WebcamOnly if !has_webcam_video => Layout::Presentation,
            other => other,
        };
        match layout {
            Layout::PresentationWebcam => {
                // A quarter of the width for the webcam (320 px at 1280), at 4:3 on top of its column.
                let column = (size.width / 4) & !1;
                let slides = Area { x: 0, y: 0, width: size.width - column, height: size.height };
                let webcam_h = ((column * 3 / 4) & !1).min(size.height);
                let webcam = Area { x: size.width - column, y: 0, width: column, height: webcam_h };
                Areas { size, slides: Some(slides), webcam: Some(webcam) }
            }
            Layout::WebcamOnly => Areas { size, slides: None, webcam: Some(full) },
            _ => Areas { size, slides: Some(full), webcam: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_layouts_parse() {
        assert_eq!("1920x1080".parse::<Size>(), Ok(Size { width: 1920, height: 1080 }));
        assert!("1281x720".parse::<Size>().is_err());
        assert!("0x0".parse::<Size>().is_err());
        assert!("big".parse::<Size>().is_err());
        for l in [Layout::Auto, Layout::Presentation, Layout::PresentationWebcam, Layout::WebcamOnly] {
            assert_eq!(l.to_string().parse::<Layout>(), Ok(l));
        }
    }

    #[test]
    fn webcam_goes_beside_the_slides_only_when_there_is_one() {
        let a = Areas::resolve(Layout::Auto, Size::HD, true);
        assert_eq!(a.slides, Some(Area { x: 0, y: 0, width: 960, height: 720 }));
        assert_eq!(a.webcam, Some(Area { x: 960, y: 0, width: 320, height: 240 }));
        let b = Areas::resolve(Layout::Auto, Size::HD, false);
        assert_eq!((b.slides.unwrap().width, b.webcam), (1280, None));
        assert_eq!(Areas::resolve(Layout::WebcamOnly, Size::HD, false), b);
    }

    #[test]
    fn fitting_keeps_proportions_and_even_pixels() {
        let area = Area { x: 0, y: 0, width: 960, height: 720 };
        let f = area.fit(1600.0, 900.0);
        assert_eq!((f.width, f.height, f.x, f.y), (960, 540, 0, 90));
        let g = Area { x: 0, y: 0, width: 1280, height: 720 }.fit(640.0, 480.0);
        assert_eq!((g.width, g.height, g.x % 2, g.y), (960, 720, 0, 0));
    }
}
