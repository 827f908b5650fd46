//! The picture at an instant, drawn on the CPU.
//!
//! Cursor moves are most of a recording's events, so the slide layer (background, slide image, annotations)
//! is drawn once per [`Timeline::change_points`] interval and kept; each frame is a copy of that layer with
//! the cursor dot on top. Under the annotations, the slide picture itself (background, the scaled slide image)
//! is kept while the slide and the view stay: scaling an image costs more than the rest of a layer, and most
//! layer changes are annotations being drawn.

use bbb_presentation::{PublishedFiles, SlideContent, Time, Timeline, ViewBox};
use tiny_skia::{Color, FillRule, Mask, PathBuilder, Pixmap, Rect, Transform};

use crate::font::{self, Align};
use crate::layout::{Area, Areas};
use crate::shapes::{self, Canvas};
use crate::slides::ImageCache;
use crate::style::paint;

/// Around the slide and in the webcam column, as in a video player.
const BACKGROUND: (u8, u8, u8) = (0x20, 0x20, 0x20);
/// Behind a screen share (the video is fitted into the slide area, bars stay this colour).
const DESKSHARE_BACKGROUND: (u8, u8, u8) = (0, 0, 0);
const CURSOR: (u8, u8, u8) = (0xff, 0x00, 0x00);

/// The slide layer of one change-point interval and how annotation space maps onto it.
struct Layer {
    interval: usize,
    pixmap: Pixmap,
    /// Annotation space → output pixels, and the visible part of the slide; `None` when no slide is drawn.
    placement: Option<(Transform, Rect)>,
}

/// The slide picture a layer starts from, and the clip of its visible part.
struct Base {
    key: BaseKey,
    pixmap: Pixmap,
    mask: Mask,
}

/// What the slide picture depends on.
#[derive(PartialEq)]
struct BaseKey {
    href: String,
    slide_rect: (f32, f32, f32, f32),
    transform: Transform,
    fitted: Area,
}

/// Draws frames of one recording at one output size and layout; keeps decoded slides and the current layer.
pub struct FrameRenderer<'a> {
    timeline: &'a Timeline,
    files: &'a dyn PublishedFiles,
    areas: Areas,
    images: ImageCache,
    change_points: Vec<Time>,
    layer: Option<Layer>,
    base: Option<Base>,
    frame: Pixmap,
    layers_drawn: usize,
    slide_pictures_drawn: usize,
}

impl<'a> FrameRenderer<'a> {
    /// `None` only for a size tiny-skia cannot allocate.
    pub fn new(timeline: &'a Timeline, files: &'a dyn PublishedFiles, areas: Areas) -> Option<Self> {
        Some(FrameRenderer {
            timeline,
            files,
            areas,
            images: ImageCache::default(),
            change_points: timeline.change_points(),
            layer: None,
            base: None,
            frame: Pixmap::new(areas.size.width, areas.size.height)?,
            layers_drawn: 0,
            slide_pictures_drawn: 0,
        })
    }

    pub fn areas(&self) -> Areas {
        self.areas
    }

    /// What could not be drawn as published (missing or broken slide images), each said once.
    pub fn warnings(&self) -> &[String] {
        &self.images.warnings
    }

    /// How many times the slide layer was drawn: the measure of the cache working (tests, benchmark).
    pub fn layers_drawn(&self) -> usize {
        self.layers_drawn
    }

    /// How many times a slide image was scaled into place: once per slide and view, not per annotation.
    pub fn slide_pictures_drawn(&self) -> usize {
        self.slide_pictures_drawn
    }

    /// The picture at `t` (slide area and cursor; the webcam area is left for ffmpeg to fill).
    pub fn render(&mut self, t: Time) -> &Pixmap {
        let interval = self.change_points.partition_point(|p| *p <= t).saturating_sub(1);
        if self.layer.as_ref().is_none_or(|l| l.interval != interval) {
            // Drawn as it is at `t` itself: the picture is the same over the whole interval by construction.
            self.layer = self.draw_layer(interval, t);
            self.layers_drawn += 1;
        }
        let Some(layer) = &self.layer else { return &self.frame };
        self.frame.data_mut().copy_from_slice(layer.pixmap.data());
        if let Some((transform, visible)) = layer.placement {
            if let Some(p) = self.timeline.cursor_in_page_at(t) {
                let (x, y) = (p.x as f32, p.y as f32);
                let mut q = tiny_skia::Point::from_xy(x, y);
                transform.map_point(&mut q);
                let inside =
                    q.x >= visible.left() && q.x <= visible.right() && q.y >= visible.top() && q.y <= visible.bottom();
                let radius = (self.areas.size.height as f32 / 720.0 * 6.0).max(2.0);
                if inside && let Some(dot) = PathBuilder::from_circle(q.x, q.y, radius) {
                    self.frame.fill_path(&dot, &paint(CURSOR, 1.0), FillRule::Winding, Transform::identity(), None);
                }
            }
        }
        &self.frame
    }

    fn draw_layer(&mut self, interval: usize, t: Time) -> Option<Layer> {
        let size = self.areas.size;
        let mut pixmap = Pixmap::new(size.width, size.height)?;
        let (r, g, b) = BACKGROUND;
        pixmap.fill(Color::from_rgba8(r, g, b, 255));
        let Some(area) = self.areas.slides else { return Some(Layer { interval, pixmap, placement: None }) };
        let picture = self.timeline.picture_at(t);
        if picture.deskshare.is_some() {
            fill_area(&mut pixmap, area, DESKSHARE_BACKGROUND);
            let size = (area.height as f32 / 30.0).max(8.0);
            let paint = paint((0x80, 0x80, 0x80), 1.0);
            let lines = ["Screen sharing".to_owned()];
            let top = area.y as f32 + (area.height as f32 - font::line_height(size)) / 2.0;
            font::draw_lines(
                &mut pixmap,
                &lines,
                area.x as f32,
                top,
                area.width as f32,
                size,
                Align::Middle,
                &paint,
                Transform::identity(),
            );
            return Some(Layer { interval, pixmap, placement: None });
        }
        let Some(slide) = picture.slide else { return Some(Layer { interval, pixmap, placement: None }) };
        let format = self.timeline.format;
        let scale = slide.tldraw_scale(format) as f32;
        let slide_rect = (0.0, 0.0, slide.width as f32 * scale, slide.height as f32 * scale);
        let view = picture.view.filter(usable).unwrap_or(ViewBox {
            x: 0.0,
            y: 0.0,
            width: f64::from(slide_rect.2.max(1.0)),
            height: f64::from(slide_rect.3.max(1.0)),
        });
        let fitted = area.fit(view.width, view.height);
        let (sx, sy) = (fitted.width as f32 / view.width as f32, fitted.height as f32 / view.height as f32);
        let transform = Transform::from_row(
            sx,
            0.0,
            0.0,
            sy,
            fitted.x as f32 - view.x as f32 * sx,
            fitted.y as f32 - view.y as f32 * sy,
        );
        let visible = Rect::from_xywh(fitted.x as f32, fitted.y as f32, fitted.width as f32, fitted.height as f32)?;
        let key = BaseKey { href: slide.href.clone(), slide_rect, transform, fitted };
        if self.base.as_ref().is_none_or(|b| b.key != key) {
            let mut mask = Mask::new(size.width, size.height)?;
            mask.fill_path(&PathBuilder::from_rect(visible), FillRule::Winding, false, Transform::identity());
            fill_area(&mut pixmap, fitted, (0xff, 0xff, 0xff));
            let mut canvas = Canvas {
                pixmap: &mut pixmap,
                transform,
                mask: Some(&mask),
                format,
                files: self.files,
                images: &mut self.images,
            };
            // The placeholders BBB itself shows (logo, under a screen share) are drawn when present and left
            // white when not; a missing page of the presentation is a damaged recording and gets a placeholder.
            let drawn = {
                let Canvas { pixmap, mask, files, images, .. } = &mut canvas;
                images.draw(*files, &slide.href, slide_rect, Transform::identity(), pixmap, transform, *mask)
            };
            if !drawn && matches!(slide.content, SlideContent::Page { .. } | SlideContent::Other) && slide_rect.2 > 0.0
            {
                shapes::placeholder(&mut canvas, slide_rect, transform);
            }
            self.base = Some(Base { key, pixmap: pixmap.clone(), mask });
            self.slide_pictures_drawn += 1;
        }
        let base = self.base.as_ref()?;
        pixmap.data_mut().copy_from_slice(base.pixmap.data());
        let mut canvas = Canvas {
            pixmap: &mut pixmap,
            transform,
            mask: Some(&base.mask),
            format,
            files: self.files,
            images: &mut self.images,
        };
        for shape in &picture.shapes {
            shapes::draw(&mut canvas, &shape.revision.shape);
        }
        Some(Layer { interval, pixmap, placement: Some((transform, visible)) })
    }
}

fn usable(v: &ViewBox) -> bool {
    [v.x, v.y, v.width, v.height].iter().all(|x| x.is_finite()) && v.width > 0.0 && v.height > 0.0
}

fn fill_area(pixmap: &mut Pixmap, a: Area, (r, g, b): (u8, u8, u8)) {
    if let Some(rect) = Rect::from_xywh(a.x as f32, a.y as f32, a.width as f32, a.height as f32) {
        pixmap.fill_rect(rect, &paint((r, g, b), 1.0), Transform::identity(), None);
    }
}

/// The frame as PNG bytes, with un-premultiplied colours as PNG wants.
pub(crate) fn encode_png(pixmap: &Pixmap) -> Result<Vec<u8>, String> {
    pixmap.encode_png().map_err(|e| format!("PNG encoding: {e}"))
}
