//! Path building the timeline's geometry needs and tiny-skia lacks: SVG elliptical arcs as cubic curves.

use std::f64::consts::PI;

use tiny_skia::PathBuilder;

/// Appends the SVG arc from `(x1, y1)` to `(x2, y2)` (SVG 1.1 appendix F.6 endpoint parameterization) as
/// cubic Béziers of at most a quarter turn each. Degenerate radii become a straight line, as SVG says.
#[allow(clippy::too_many_arguments)]
pub(crate) fn arc_to(
    pb: &mut PathBuilder,
    (x1, y1): (f64, f64),
    mut rx: f64,
    mut ry: f64,
    x_rotation_deg: f64,
    large_arc: bool,
    sweep: bool,
    (x2, y2): (f64, f64),
) {
    rx = rx.abs();
    ry = ry.abs();
    if (x1 == x2 && y1 == y2) || !(rx > 0.0 && ry > 0.0) || !rx.is_finite() || !ry.is_finite() {
        pb.line_to(x2 as f32, y2 as f32);
        return;
    }
    let phi = x_rotation_deg.to_radians();
    let (sin_phi, cos_phi) = phi.sin_cos();
    let dx = (x1 - x2) / 2.0;
    let dy = (y1 - y2) / 2.0;
    let x1p = cos_phi * dx + sin_phi * dy;
    let y1p = -sin_phi * dx + cos_phi * dy;
    let lambda = (x1p * x1p) / (rx * rx) + (y1p * y1p) / (ry * ry);
    if lambda > 1.0 {
        let s = lambda.sqrt();
        rx *= s;
        ry *= s;
    }
    let num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p;
    let den = rx * rx * y1p * y1p + ry * ry * x1p * x1p;
    let mut coef = if den > 0.0 { (num / den).max(0.0).sqrt() } else { 0.0 };
    if large_arc == sweep {
        coef = -coef;
    }
    let cxp = coef * rx * y1p / ry;
    let cyp = -coef * ry * x1p / rx;
    let cx = cos_phi * cxp - sin_phi * cyp + (x1 + x2) / 2.0;
    let cy = sin_phi * cxp + cos_phi * cyp + (y1 + y2) / 2.0;
    let angle = |ux: f64, uy: f64, vx: f64, vy: f64| {
        let a = (ux * vy - uy * vx).atan2(ux * vx + uy * vy);
        if a.is_finite() { a } else { 0.0 }
    };
    let theta1 = angle(1.0, 0.0, (x1p - cxp) / rx, (y1p - cyp) / ry);
    let mut delta = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry);
    if !sweep && delta > 0.0 {
        delta -= 2.0 * PI;
    } else if sweep && delta < 0.0 {
        delta += 2.0 * PI;
    }
    let segments = (delta.abs() / (PI / 2.0)).ceil().clamp(1.0, 8.0) as usize;
    let step = delta / segments as f64;
    let k = 4.0 / 3.0 * (step / 4.0).tan();
    let point = |t: f64| {
        let (s, c) = t.sin_cos();
        (cx + rx * c * cos_phi - ry * s * sin_phi, cy + rx * c * sin_phi + ry * s * cos_phi)
    };
    let derivative = |t: f64| {
        let (s, c) = t.sin_cos();
        (-rx * s * cos_phi - ry * c * sin_phi, -rx * s * sin_phi + ry * c * cos_phi)
    };
    let mut t = theta1;
    for _ in 0..segments {
        let (p0, d0) = (point(t), derivative(t));
        let (p3, d3) = (point(t + step), derivative(t + step));
        pb.cubic_to(
            (p0.0 + k * d0.0) as f32,
            (p0.1 + k * d0.1) as f32,
            (p3.0 - k * d3.0) as f32,
            (p3.1 - k * d3.1) as f32,
            p3.0 as f32,
            p3.1 as f32,
        );
        t += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_circle_arc_reaches_its_end_and_bulges() {
        let mut pb = PathBuilder::new();
        pb.move_to(0.0, 0.0);
        arc_to(&mut pb, (0.0, 0.0), 10.0, 10.0, 0.0, false, true, (20.0, 0.0));
        let path = pb.finish().unwrap();
        let b = path.bounds();
        assert!((b.right() - 20.0).abs() < 0.01 && (b.top() + 10.0).abs() < 0.2, "{b:?}");
        let mut degenerate = PathBuilder::new();
        degenerate.move_to(0.0, 0.0);
        arc_to(&mut degenerate, (0.0, 0.0), 0.0, f64::NAN, 0.0, false, true, (5.0, 5.0));
        assert_eq!(degenerate.finish().unwrap().bounds().right(), 5.0);
    }
}
