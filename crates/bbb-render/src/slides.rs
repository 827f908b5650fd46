//! Slide and poll images, decoded once: PNG and JPEG as pixels, SVG (BBB 2.6+ `svgs/slideN.svg`, poll charts)
//! as a parsed tree rasterized at the scale it is shown at, so that a zoomed-in slide stays sharp.

use std::collections::HashMap;
use std::sync::Arc;

use bbb_presentation::PublishedFiles;
use tiny_skia::{FilterQuality, IntSize, Mask, Pixmap, PixmapPaint, Transform};

/// What an image path turned into.
enum Image {
    Raster(Pixmap),
    Vector {
        tree: Box<resvg::usvg::Tree>,
        raster: Option<(u32, Pixmap)>,
    },
    /// Missing or undecodable; the reason was warned about once.
    Broken,
}

#[derive(Default)]
pub(crate) struct ImageCache {
    images: HashMap<String, Image>,
    pub(crate) warnings: Vec<String>,
}

/// The options SVG slides are parsed with: our embedded font for any `<text>` they hold, and no file access.
/// usvg's default resolves an `<image href>` that is not a `data:` URL as a local path and reads it (a slide
/// naming `/home/…/secret.png` or `../../x.png` would show that file in the video); a slide's SVG is remote
/// data, so only inline `data:` images are drawn and every other reference is dropped.
fn svg_options() -> resvg::usvg::Options<'static> {
    let mut db = resvg::usvg::fontdb::Database::new();
    db.load_font_data(crate::font::FONT_BYTES.to_vec());
    db.set_sans_serif_family("DejaVu Sans");
    db.set_serif_family("DejaVu Sans");
    db.set_monospace_family("DejaVu Sans");
    let image_href_resolver = resvg::usvg::ImageHrefResolver {
        resolve_data: resvg::usvg::ImageHrefResolver::default_data_resolver(),
        resolve_string: Box::new(|_, _| None),
    };
    resvg::usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: Arc::new(db),
        image_href_resolver,
        ..Default::default()
    }
}

fn decode(bytes: &[u8]) -> Result<Image, String> {
    if bytes.starts_with(b"\x89PNG") {
        return Pixmap::decode_png(bytes).map(Image::Raster).map_err(|e| format!("PNG: {e}"));
    }
    if bytes.starts_with(&[0xff, 0xd8]) {
        return decode_jpeg(bytes).map(Image::Raster);
    }
    // usvg parses with roxmltree, which expands internal entities at every reference without a size limit.
    if bbb_presentation::declares_entities(&String::from_utf8_lossy(bytes)) {
        return Err("an SVG whose DOCTYPE declares entities (never written by BBB); refused".to_owned());
    }
    let tree = resvg::usvg::Tree::from_data(bytes, &svg_options()).map_err(|e| format!("not PNG, JPEG or SVG: {e}"))?;
    Ok(Image::Vector { tree: Box::new(tree), raster: None })
}

fn decode_jpeg(bytes: &[u8]) -> Result<Pixmap, String> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGBA);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder.decode().map_err(|e| format!("JPEG: {e:?}"))?;
    let (w, h) = decoder.dimensions().ok_or("JPEG without dimensions")?;
    let size = IntSize::from_wh(w as u32, h as u32).ok_or("JPEG of size 0")?;
    Pixmap::from_vec(pixels, size).ok_or_else(|| "JPEG pixel buffer of the wrong size".to_owned())
}

impl ImageCache {
    /// Draws the image at `href` into the rectangle `(x, y, width, height)` of `transform`'s space; `false`
    /// when it is missing or broken (the caller draws a placeholder).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draw(
        &mut self,
        files: &dyn PublishedFiles,
        href: &str,
        rect: (f32, f32, f32, f32),
        extra: Transform,
        target: &mut Pixmap,
        transform: Transform,
        mask: Option<&Mask>,
    ) -> bool {
        let (x, y, width, height) = rect;
        if !(width > 0.0 && height > 0.0) {
            return false;
        }
        let image = self.images.entry(href.to_owned()).or_insert_with(|| {
            let result = match files.get(href) {
                None => Err("missing".to_owned()),
                Some(bytes) => decode(&bytes),
            };
            result.unwrap_or_else(|reason| {
                self.warnings.push(format!("{href}: {reason}; a placeholder is drawn instead"));
                Image::Broken
            })
        });
        let placed = transform.pre_concat(extra).pre_translate(x, y);
        let paint = PixmapPaint { quality: FilterQuality::Bicubic, ..PixmapPaint::default() };
        match image {
            Image::Broken => false,
            Image::Raster(p) => {
                let t = placed.pre_scale(width / p.width() as f32, height / p.height() as f32);
                target.draw_pixmap(0, 0, p.as_ref(), &paint, t, mask);
                true
            }
            Image::Vector { tree, raster } => {
                // Rasterize at the on-screen size (capped), re-done only when the zoom changes that size.
                let device_scale = (placed.sx * placed.sx + placed.ky * placed.ky).sqrt();
                let px_w = (width * device_scale).ceil().clamp(1.0, 8192.0) as u32;
                let px_h = ((height * device_scale).ceil().clamp(1.0, 8192.0)) as u32;
                if raster.as_ref().is_none_or(|(w, _)| *w != px_w) {
                    let Some(mut p) = Pixmap::new(px_w, px_h) else { return false };
                    let size = tree.size();
                    let t = Transform::from_scale(px_w as f32 / size.width(), px_h as f32 / size.height());
                    resvg::render(tree, t, &mut p.as_mut());
                    *raster = Some((px_w, p));
                }
                let Some((_, p)) = raster else { return false };
                let t = placed.pre_scale(width / p.width() as f32, height / p.height() as f32);
                target.draw_pixmap(0, 0, p.as_ref(), &paint, t, mask);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn png_jpeg_svg_and_missing() {
        let mut red = Pixmap::new(4, 4).unwrap();
        red.fill(tiny_skia::Color::from_rgba8(255, 0, 0, 255));
        let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#00f"/></svg>"##;
        let files: BTreeMap<String, Vec<u8>> =
            [("a.png".to_owned(), red.encode_png().unwrap()), ("b.svg".to_owned(), svg.to_vec())].into();
        let mut cache = ImageCache::default();
        let mut target = Pixmap::new(20, 10).unwrap();
        let id = Transform::identity();
        assert!(cache.draw(&files, "a.png", (0.0, 0.0, 10.0, 10.0), id, &mut target, id, None));
        assert!(cache.draw(&files, "b.svg", (10.0, 0.0, 10.0, 10.0), id, &mut target, id, None));
        assert_eq!(target.pixel(5, 5).unwrap().red(), 255);
        assert_eq!(target.pixel(15, 5).unwrap().blue(), 255);
        assert!(!cache.draw(&files, "c.png", (0.0, 0.0, 1.0, 1.0), id, &mut target, id, None));
        assert!(!cache.draw(&files, "c.png", (0.0, 0.0, 1.0, 1.0), id, &mut target, id, None));
        assert_eq!(cache.warnings.len(), 1, "warned once: {:?}", cache.warnings);
        let jpeg_junk = [0xff, 0xd8, 0, 1, 2];
        assert!(decode(&jpeg_junk).is_err());
    }

    /// Hostile slides (issue 8): references in remote data never reach a file outside the recording.
    #[test]
    fn hostile_slide_references_are_refused_with_a_warning() {
        let outside = std::env::temp_dir().join(format!("bbb-render-outside-{}", std::process::id()));
        let root = outside.join("rec");
        std::fs::create_dir_all(root.join("presentation/p/svgs")).unwrap();
        let mut green = Pixmap::new(4, 4).unwrap();
        green.fill(tiny_skia::Color::from_rgba8(0, 255, 0, 255));
        std::fs::write(outside.join("secret.png"), green.encode_png().unwrap()).unwrap();
        let secret = outside.join("secret.png").display().to_string();
        // An SVG slide that embeds files by absolute path, by `file:` URL and by `..`: usvg's default would
        // read the first and third; the slide must draw without them.
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="4" height="4">
            <image width="4" height="4" xlink:href="{secret}"/><image width="4" height="4" href="file://{secret}"/>
            <image width="4" height="4" href="../../../../secret.png"/></svg>"#
        );
        std::fs::write(root.join("presentation/p/svgs/slide1.svg"), svg).unwrap();
        let big = "x".repeat(1 << 20);
        let laughs = format!("<!DOCTYPE svg [<!ENTITY a \"{big}\">]><svg><text>{}</text></svg>", "&a;".repeat(3000));
        std::fs::write(root.join("presentation/p/svgs/slide2.svg"), laughs).unwrap();

        let dir = crate::inputs::RecordingDir::new(&root);
        let mut cache = ImageCache::default();
        let id = Transform::identity();
        let mut target = Pixmap::new(4, 4).unwrap();
        assert!(cache.draw(&dir, "presentation/p/svgs/slide1.svg", (0.0, 0.0, 4.0, 4.0), id, &mut target, id, None));
        assert_eq!(target.pixel(2, 2).unwrap().green(), 0, "the file outside the recording was not drawn");
        let start = std::time::Instant::now();
        assert!(!cache.draw(&dir, "presentation/p/svgs/slide2.svg", (0.0, 0.0, 4.0, 4.0), id, &mut target, id, None));
        assert!(start.elapsed().as_secs() < 5, "entity expansion refused before parsing");
        for href in ["file:///etc/passwd", "http://127.0.0.1:9/slide.png", "../../secret.png", "/etc/passwd", &secret] {
            assert!(!cache.draw(&dir, href, (0.0, 0.0, 4.0, 4.0), id, &mut target, id, None), "{href}");
        }
        assert_eq!(cache.warnings.len(), 6, "one warning per refused slide: {:#?}", cache.warnings);
        assert!(cache.warnings.iter().all(|w| w.contains("placeholder")), "{:#?}", cache.warnings);
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
