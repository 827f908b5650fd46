//! Just enough Matroska to hand ffmpeg raw I420 frames *with their timestamps* through a pipe.
//!
//! Why: `-f rawvideo` has no timestamps (every frame lasts 1/rate), so a variable-rate picture would have to
//! be sent as thousands of identical frames. Matroska carries a timestamp per block, and ffmpeg reads
//! `V_UNCOMPRESSED` with an `I420` colour space as rawvideo yuv420p (it writes the same itself). One cluster per
//! frame keeps each block's timestamp absolute; sizes use the 8-byte form so no element needs a second pass.

/// The stream header: EBML header, a segment of unknown size, info (millisecond timestamps), one video track.
pub(crate) fn header(width: u32, height: u32) -> Vec<u8> {
    let ebml = [
        element(0x4286, &uint(1)),
        element(0x42F7, &uint(1)),
        element(0x42F2, &uint(4)),
        element(0x42F3, &uint(8)),
        element(0x4282, b"matroska"),
        element(0x4287, &uint(4)),
        element(0x4285, &uint(2)),
    ]
    .concat();
    let info =
        [element(0x2AD7B1, &uint(1_000_000)), element(0x4D80, b"bbb-render"), element(0x5741, b"bbb-render")].concat();
    let video =
        [element(0xB0, &uint(u64::from(width))), element(0xBA, &uint(u64::from(height))), element(0x2EB524, b"I420")]
            .concat();
    let track = [
        element(0xD7, &uint(1)),
        element(0x73C5, &uint(1)),
        element(0x83, &uint(1)),
        element(0x9C, &uint(0)),
        element(0x86, b"V_UNCOMPRESSED"),
        element(0xE0, &video),
    ]
    .concat();
    let mut out = element(0x1A45DFA3, &ebml);
    out.extend(id(0x18538067));
    out.extend([0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // unknown size: a live stream
    out.extend(element(0x1549A966, &info));
    out.extend(element(0x1654AE6B, &element(0xAE, &track)));
    out
}

/// Everything of one frame's cluster that comes before its `frame_len` pixel bytes.
pub(crate) fn frame_prefix(timestamp_ms: u64, frame_len: usize) -> Vec<u8> {
    let block_len = 4 + frame_len as u64; // track number, relative timestamp (2), flags
    let timestamp = element(0xE7, &uint(timestamp_ms));
    let mut block_head = id(0xA3);
    block_head.extend(size(block_len));
    block_head.extend([0x81, 0x00, 0x00, 0x80]); // track 1, +0 ms, keyframe
    let cluster_len = timestamp.len() as u64 + block_head.len() as u64 + frame_len as u64;
    let mut out = id(0x1F43B675);
    out.extend(size(cluster_len));
    out.extend(timestamp);
    out.extend(block_head);
    out
}

fn id(id: u32) -> Vec<u8> {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

fn size(len: u64) -> [u8; 8] {
    let mut b = len.to_be_bytes();
    b[0] = 0x01;
    b
}

fn uint(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    bytes[skip..].to_vec()
}

fn element(element_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = id(element_id);
    out.extend(size(payload.len() as u64));
    out.extend(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(id(0x1A45DFA3), [0x1A, 0x45, 0xDF, 0xA3]);
        assert_eq!(id(0xE7), [0xE7]);
        assert_eq!(uint(0), [0]);
        assert_eq!(uint(1_000_000), [0x0F, 0x42, 0x40]);
        assert_eq!(size(5), [1, 0, 0, 0, 0, 0, 0, 5]);
        let h = header(4, 2);
        assert!(h.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
        assert!(h.windows(14).any(|w| w == b"V_UNCOMPRESSED"));
        let p = frame_prefix(1234, 32);
        assert_eq!(p[..4], [0x1F, 0x43, 0xB6, 0x75]);
        assert_eq!(
            u64::from_be_bytes(p[4..12].try_into().unwrap()) & 0x00FF_FFFF_FFFF_FFFF,
            (p.len() - 12 + 32) as u64
        );
    }
}
