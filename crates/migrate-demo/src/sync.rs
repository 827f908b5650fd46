//! Audio/video sync of a rendered file, measured against the demo media's own signals (see [`crate::media`]):
//! the sound switches to a tone four times higher at every whole second, so where that switch lands in the
//! output is the audio's offset; and the webcam picture shown at a whole second must be the source's picture
//! of that instant, not its neighbour's. Renderer tests and `bench render` use this to check that sound and
//! picture stay together over hours.

use std::path::Path;
use std::process::Stdio;

const RATE: usize = 48_000;
/// Zero crossings are counted over 5 ms windows moved by 0.5 ms: the tone (300–800 Hz) gives 3–8 of them, the
/// beep four times more, and the switch is found to well under a millisecond.
const WINDOW: usize = RATE / 200;
const STEP: usize = RATE / 2000;

/// Where the beep of whole second `second` (≥ 1) is heard in `file`, minus `second`, in seconds.
///
/// Compare the output's figure with the source's at the same second: their difference is how far the sound
/// moved. `None` when the audio cannot be decoded there or holds no beep.
pub async fn beep_offset(ffmpeg: &Path, file: &Path, second: u64) -> Option<f64> {
    let from = second as f64 - 0.25;
    let samples = sound_samples(ffmpeg, file, from, 0.5).await?;
    beep_onset(&samples).map(|at| from + at as f64 / RATE as f64 - second as f64)
}

/// `len` seconds of `file`'s first sound track from `from`, as mono samples at [`RATE`].
async fn sound_samples(ffmpeg: &Path, file: &Path, from: f64, len: f64) -> Option<Vec<f32>> {
    let (len, rate) = (format!("{len:.3}"), RATE.to_string());
    let output = ["-map", "0:a:0", "-ac", "1", "-ar", &rate, "-f", "f32le"];
    let bytes = decoded(ffmpeg, file, from, &["-t", &len], &output).await?;
    Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// The sample where the zero-crossing rate jumps from the tone's to the beep's, if it does.
fn beep_onset(samples: &[f32]) -> Option<usize> {
    if samples.len() < RATE / 5 {
        return None;
    }
    let crossings: Vec<u32> = samples.windows(2).map(|w| u32::from((w[0] < 0.0) != (w[1] < 0.0))).collect();
    let rates: Vec<(usize, u32)> = (0..crossings.len().saturating_sub(WINDOW))
        .step_by(STEP)
        .map(|start| (start, crossings[start..start + WINDOW].iter().sum()))
        .collect();
    // The first 100 ms (before the beep, which comes 250 ms in) give the tone's rate.
    let mut tone: Vec<u32> = rates.iter().take_while(|(s, _)| *s < RATE / 10).map(|(_, r)| *r).collect();
    tone.sort_unstable();
    let tone = *tone.get(tone.len() / 2)?;
    let beep = rates.iter().map(|(_, r)| *r).max()?;
    if beep < tone * 2 {
        return None;
    }
    let threshold = (tone + beep) / 2;
    // Half the window holds beep samples when the rate crosses half-way: the switch is at the window's middle.
    rates.iter().find(|(_, r)| *r >= threshold).map(|(start, _)| start + WINDOW / 2)
}

/// How far the sound of `output` around `at` (seconds) lies from the same sound in `source`, in seconds
/// (positive: heard later): the lag, within ±[`MAX_LAG`], where the two waveforms correlate best. For any
/// sound, speech included; `None` when it cannot be decoded or that stretch is too quiet to tell.
pub async fn sound_offset(ffmpeg: &Path, output: &Path, source: &Path, at: f64) -> Option<f64> {
    let lag = MAX_LAG.as_secs_f64();
    let reference = sound_samples(ffmpeg, source, at, CORRELATION_WINDOW).await?;
    let heard = sound_samples(ffmpeg, output, at - lag, CORRELATION_WINDOW + 2.0 * lag).await?;
    best_lag(&reference, &heard, (lag * RATE as f64) as usize).map(|i| i as f64 / RATE as f64 - lag)
}

/// How far apart output and source may be for [`sound_offset`] to find it.
pub const MAX_LAG: std::time::Duration = std::time::Duration::from_millis(100);
/// Seconds of sound compared: long enough to hold speech, not only a pause.
const CORRELATION_WINDOW: f64 = 2.0;

/// The offset into `heard` (0..=2×`max_lag`) where `reference` matches best, by normalized cross-correlation;
/// `None` for silence or no clear match.
fn best_lag(reference: &[f32], heard: &[f32], max_lag: usize) -> Option<usize> {
    let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
    let reference_energy = energy(reference);
    // Below an RMS of about -70 dBFS there is nothing to match.
    if reference.len() < RATE / 2 || reference_energy / (reference.len() as f32) < 1e-7 {
        return None;
    }
    let (mut best, mut best_score) = (None, 0.5f32);
    for offset in 0..=(2 * max_lag).min(heard.len().saturating_sub(reference.len())) {
        let window = &heard[offset..offset + reference.len()];
        let dot: f32 = reference.iter().zip(window).map(|(a, b)| a * b).sum();
        let score = dot / (reference_energy * energy(window)).sqrt().max(f32::MIN_POSITIVE);
        if score > best_score {
            (best, best_score) = (Some(offset), score);
        }
    }
    best
}

/// How alike the output's picture in `area` at `t` is to the source's picture at `t` and to the source's
/// pictures one frame (`1 / source_fps`) earlier and later: mean absolute difference per channel (0–255).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PictureMatch {
    pub same_instant: f64,
    pub frame_before: f64,
    pub frame_after: f64,
}

impl PictureMatch {
    /// The output shows the source's picture of the same instant: closer to it than to either neighbour.
    pub fn in_sync(&self) -> bool {
        self.same_instant < self.frame_before && self.same_instant < self.frame_after
    }
}

/// Where a picture sits in the output frame, in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Compares the output's `region` at `t` with the source video, fitted into the region the way a renderer
/// letterboxes it. `None` when a picture cannot be decoded.
pub async fn picture_match(
    ffmpeg: &Path,
    output: &Path,
    region: Region,
    source: &Path,
    source_fps: f64,
    t: f64,
) -> Option<PictureMatch> {
    let Region { x, y, width: w, height: h } = region;
    let shown = decode(ffmpeg, output, t, &format!("crop={w}:{h}:{x}:{y}")).await?;
    let fit = format!("scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2");
    let mut diffs = [0.0; 3];
    for (slot, dt) in diffs.iter_mut().zip([0.0, -1.0, 1.0]) {
        let picture = decode(ffmpeg, source, t + dt / source_fps, &fit).await?;
        *slot = mean_difference(&shown, &picture)?;
    }
    Some(PictureMatch { same_instant: diffs[0], frame_before: diffs[1], frame_after: diffs[2] })
}

/// One RGB picture of `file` at `t` through `filter`.
async fn decode(ffmpeg: &Path, file: &Path, t: f64, filter: &str) -> Option<Vec<u8>> {
    let filter = format!("{filter},format=rgb24");
    decoded(ffmpeg, file, t, &[], &["-frames:v", "1", "-an", "-vf", &filter, "-f", "rawvideo"]).await
}

/// What ffmpeg decodes from `file` from `t` on (`input` options before `-i`, `output` options after it), if
/// anything.
async fn decoded(ffmpeg: &Path, file: &Path, t: f64, input: &[&str], output: &[&str]) -> Option<Vec<u8>> {
    let out = tokio::process::Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-ss", &format!("{t:.3}")])
        .args(input)
        .arg("-i")
        .arg(file)
        .args(output)
        .arg("pipe:1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
}

fn mean_difference(a: &[u8], b: &[u8]) -> Option<f64> {
    (a.len() == b.len() && !a.is_empty())
        .then(|| a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum::<u64>() as f64 / a.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_lag_is_where_the_sound_matches() {
        // A chirp-like, non-periodic sound (no false match one period away), found 7 ms late.
        let sound: Vec<f32> =
            (0..RATE).map(|i| ((i as f32 / 40.0).powf(1.3)).sin() * (1.0 + (i % 97) as f32 / 97.0)).collect();
        let max_lag = RATE / 10;
        let delay = RATE * 7 / 1000;
        let mut heard = vec![0.0f32; max_lag + delay];
        heard.extend_from_slice(&sound);
        heard.extend(std::iter::repeat_n(0.0, max_lag));
        assert_eq!(best_lag(&sound, &heard, max_lag), Some(max_lag + delay));
        assert_eq!(best_lag(&vec![0.0; RATE], &heard, max_lag), None, "silence has no offset");
    }

    fn tone_with_beep_at(beep_at: usize, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let f = if (beep_at..beep_at + RATE / 25).contains(&i) { 1_800.0 } else { 450.0 };
                (2.0 * std::f32::consts::PI * f * i as f32 / RATE as f32).sin()
            })
            .collect()
    }

    #[test]
    fn finds_the_beep_to_the_millisecond() {
        for beep_at in [12_000, 12_345, 13_000] {
            let found = beep_onset(&tone_with_beep_at(beep_at, RATE / 2)).unwrap();
            assert!(found.abs_diff(beep_at) <= RATE / 1000, "beep at {beep_at}, found at {found}");
        }
    }

    #[test]
    fn no_beep_no_answer() {
        assert_eq!(beep_onset(&tone_with_beep_at(usize::MAX / 2, RATE / 2)), None);
        assert_eq!(beep_onset(&[0.0; 100]), None);
    }
}
