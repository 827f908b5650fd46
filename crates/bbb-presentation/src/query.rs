//! Questions a renderer asks the timeline, all by binary search over the sorted lists.

use std::collections::BTreeSet;

use crate::model::{
    CursorMove, Deskshare, Geometry, Point, Revision, ShapeTrack, SlideShowing, Space, Timeline, ViewBox,
};
use crate::{AnnotationFormat, Time};

/// A shape as it looks at an instant: its track and the revision that counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisibleShape<'a> {
    pub track: &'a ShapeTrack,
    pub revision: &'a Revision,
}

/// Everything of the slide layer at an instant (the cursor excluded), comparable between instants.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture<'a> {
    pub slide: Option<&'a SlideShowing>,
    /// The view in annotation space ([`Timeline::view_rect_at`]).
    pub view: Option<ViewBox>,
    /// In paint order.
    pub shapes: Vec<VisibleShape<'a>>,
    pub deskshare: Option<&'a Deskshare>,
}

impl Timeline {
    /// The slide showing on screen at `t` (start inclusive, end exclusive).
    pub fn slide_at(&self, t: Time) -> Option<&SlideShowing> {
        let n = self.slides.partition_point(|s| s.start <= t);
        self.slides.get(n.checked_sub(1)?).filter(|s| t < s.end)
    }

    /// The pan/zoom view in force at `t`, as written in `panzooms.xml` (see [`ViewBox`] for its space).
    pub fn view_at(&self, t: Time) -> Option<ViewBox> {
        let n = self.views.partition_point(|v| v.at <= t);
        self.views.get(n.checked_sub(1)?).map(|v| v.view)
    }

    /// The visible rectangle at `t` in the space annotations are drawn in: slide pixels for SVG-era recordings;
    /// tldraw page units with `tldraw="true"` (origin = minus the camera point, size scaled by the current slide's
    /// tldraw factor, as bbb-playback does). Without a view the whole current slide is shown.
    pub fn view_rect_at(&self, t: Time) -> Option<ViewBox> {
        let slide = self.slide_at(t);
        let Some(view) = self.view_at(t) else {
            let slide = slide?;
            let s = slide.tldraw_scale(self.format);
            return Some(ViewBox { x: 0.0, y: 0.0, width: slide.width * s, height: slide.height * s });
        };
        match self.view_space {
            Space::Slide => Some(view),
            Space::Tldraw => {
                let format = if self.format.is_tldraw() { self.format } else { AnnotationFormat::TldrawV2 };
                let s = slide.map_or(1.0, |slide| slide.tldraw_scale(format));
                Some(ViewBox { x: -view.x, y: -view.y, width: view.width * s, height: view.height * s })
            }
        }
    }

    /// The cursor position at `t` as written in `cursor.xml` (relative to the view 0..1 in 2.x, tldraw page
    /// coordinates with `tldraw="true"`); `None` when hidden or before the first event.
    pub fn cursor_at(&self, t: Time) -> Option<Point> {
        let n = self.cursor.partition_point(|c| c.at <= t);
        self.cursor.get(n.checked_sub(1)?).and_then(|c: &CursorMove| c.position)
    }

    /// The cursor at `t` in annotation space (slide pixels or tldraw page units), ready to draw over the
    /// slide layer with the same transform as the annotations.
    pub fn cursor_in_page_at(&self, t: Time) -> Option<Point> {
        let p = self.cursor_at(t)?;
        match self.cursor_space {
            Space::Tldraw => Some(p),
            Space::Slide => {
                let v = self.view_rect_at(t)?;
                Some(Point::new(v.x + p.x * v.width, v.y + p.y * v.height))
            }
        }
    }

    /// The shapes visible at `t` on the current slide image, each at its newest revision, in paint order.
    pub fn visible_shapes(&self, t: Time) -> Vec<VisibleShape<'_>> {
        let Some(slide) = self.slide_at(t) else { return Vec::new() };
        self.shapes
            .iter()
            .filter(|s| s.image_id == slide.image_id)
            .filter_map(|track| track.at(t).map(|revision| VisibleShape { track, revision }))
            .collect()
    }

    /// The screen-sharing interval at `t` (start inclusive, end exclusive).
    pub fn deskshare_at(&self, t: Time) -> Option<&Deskshare> {
        let n = self.deskshare.partition_point(|d| d.start <= t);
        self.deskshare.get(n.checked_sub(1)?).filter(|d| t < d.end)
    }

    /// The slide layer at `t`.
    pub fn picture_at(&self, t: Time) -> Picture<'_> {
        Picture {
            slide: self.slide_at(t),
            view: self.view_rect_at(t),
            shapes: self.visible_shapes(t),
            deskshare: self.deskshare_at(t),
        }
    }

    /// The sorted distinct instants in `[0, duration)` at which the slide layer may change: slide showings
    /// starting or ending, pan/zoom steps that change the view, shape revisions and undos on the slide image
    /// shown then, screen sharing starting or stopping. Always starts with 0. Between two consecutive points
    /// [`Timeline::picture_at`] is constant, so a renderer draws the layer once per point; cursor moves are
    /// separate ([`Timeline::cursor_points`]).
    pub fn change_points(&self) -> Vec<Time> {
        let mut points = vec![Time::ZERO];
        for s in &self.slides {
            points.push(s.start);
            points.push(s.end);
        }
        let mut previous: Option<ViewBox> = None;
        for v in &self.views {
            if previous != Some(v.view) {
                points.push(v.at);
            }
            previous = Some(v.view);
        }
        for d in &self.deskshare {
            points.push(d.start);
            points.push(d.end);
        }
        for track in &self.shapes {
            for r in &track.revisions {
                for t in std::iter::once(r.at).chain(r.undo) {
                    if self.slide_at(t).is_some_and(|s| s.image_id == track.image_id) {
                        points.push(t);
                    }
                }
            }
        }
        self.finish(points)
    }

    /// The sorted distinct instants in `[0, duration)` at which the cursor moves, appears or hides.
    pub fn cursor_points(&self) -> Vec<Time> {
        let mut previous: Option<Option<Point>> = None;
        let mut points = Vec::new();
        for c in &self.cursor {
            if previous != Some(c.position) {
                points.push(c.at);
            }
            previous = Some(c.position);
        }
        self.finish(points)
    }

    /// Every published picture the slide layer draws, sorted and distinct: the slide images and the images
    /// inside shapes (BBB 2.3–2.5 poll charts, `presentation/<id>/poll_resultN.svg`). A download fetches
    /// these besides the files every recording may have.
    pub fn image_files(&self) -> BTreeSet<&str> {
        fn images<'a>(geometry: &'a Geometry, found: &mut BTreeSet<&'a str>) {
            match geometry {
                Geometry::Image { href, .. } => {
                    found.insert(href);
                }
                Geometry::Group(parts) => parts.iter().for_each(|g| images(g, found)),
                _ => {}
            }
        }
        let mut found: BTreeSet<&str> = self.slides.iter().map(|s| s.href.as_str()).collect();
        for revision in self.shapes.iter().flat_map(|t| &t.revisions) {
            images(&revision.shape.geometry, &mut found);
        }
        found
    }

    fn finish(&self, mut points: Vec<Time>) -> Vec<Time> {
        points.sort_unstable();
        points.dedup();
        if self.duration > Time::ZERO {
            points.retain(|t| *t < self.duration);
        }
        points
    }
}
