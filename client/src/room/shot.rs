//! `--screenshot FILE`: the desktop client saves one PNG of its window once it has been in the
//! office for a moment, then exits. The native rendering test (under Xvfb) uses it; so can a
//! person reporting a bug. A picture in which the room is not drawn yet (a software renderer
//! under load may still be compiling its shaders: nearly every pixel is the sky's colour) is
//! taken again a second later, until the deadline.

use crate::connection::ConnState;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::time::Duration;

/// Where to save, and how long to be connected first (so the room and avatars are drawn).
#[derive(Resource, Debug, Clone)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    pub after: Duration,
    /// Give up (exit with an error) if not connected by then.
    pub deadline: Duration,
}

#[derive(Resource, Default)]
struct ShotState {
    connected_at: Option<Duration>,
    requested: bool,
    /// Set by a capture of a room not drawn yet: take another.
    again: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Whether a picture shows the room: fewer than 80 % of its pixels are the clear (sky) colour.
pub fn room_drawn(rgb: &[u8], clear: [u8; 3]) -> bool {
    let pixels = rgb.len() / 3;
    let sky = rgb.chunks(3).filter(|p| p.iter().zip(clear).all(|(a, b)| a.abs_diff(b) <= 3)).count();
    pixels > 0 && sky * 10 < pixels * 8
}

fn take(
    plan: Res<ScreenshotPlan>,
    state: Res<ConnState>,
    time: Res<Time<Real>>,
    clear: Res<ClearColor>,
    mut shot: Local<ShotState>,
    mut exit: MessageWriter<AppExit>,
    mut commands: Commands,
) {
    let now = time.elapsed();
    if *state == ConnState::Connected && shot.connected_at.is_none() {
        shot.connected_at = Some(now);
    }
    if shot.requested && shot.again.swap(false, std::sync::atomic::Ordering::Relaxed) {
        shot.requested = false;
        shot.connected_at = Some(now.saturating_sub(plan.after) + Duration::from_secs(1));
    }
    if shot.requested {
        // The capture comes back a frame or two later; a driver that never delivers it must not
        // leave the app running for ever.
        if now > plan.deadline + plan.after + Duration::from_secs(30) {
            error!("screenshot: the capture never arrived");
            exit.write(AppExit::from_code(4));
        }
        return;
    }
    match shot.connected_at {
        Some(at) if now >= at + plan.after => {
            shot.requested = true;
            let path = plan.path.clone();
            let again = shot.again.clone();
            let last_try = now > at + plan.after + plan.deadline;
            let clear = clear.0.to_srgba().to_u8_array_no_alpha();
            commands.spawn(Screenshot::primary_window()).observe(
                move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
                    let rgb = captured.image.clone().try_into_dynamic().map_err(|e| e.to_string()).map(|i| i.to_rgb8());
                    if let Ok(rgb) = &rgb
                        && !last_try
                        && !room_drawn(rgb.as_raw(), clear)
                    {
                        again.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    let result = rgb.and_then(|rgb| {
                        let (w, h) = rgb.dimensions();
                        std::fs::write(&path, png_rgb(w, h, rgb.as_raw())).map_err(|e| e.to_string())
                    });
                    match result {
                        Ok(()) => {
                            info!("screenshot saved to {}", path.display());
                            exit.write(AppExit::Success);
                        }
                        Err(e) => {
                            error!("screenshot: {e}");
                            exit.write(AppExit::from_code(3));
                        }
                    }
                },
            );
        }
        None if now > plan.deadline => {
            error!("screenshot: not connected after {:?} ({:?})", plan.deadline, *state);
            exit.write(AppExit::from_code(2));
        }
        _ => {}
    }
}

/// A PNG of 8-bit RGB pixels, with stored (uncompressed) deflate blocks: no image codec needed.
pub fn png_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for y in 0..height as usize {
        raw.push(0); // filter: none
        raw.extend_from_slice(&rgb[y * row..(y + 1) * row]);
    }
    let mut z = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(c) = chunks.next() {
        z.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    for (kind, data) in [(b"IHDR", &ihdr), (b"IDAT", &z), (b"IEND", &Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &d in data {
        c ^= u32::from(d);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Last, take.run_if(resource_exists::<ScreenshotPlan>));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_checksums_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let png = png_rgb(2, 1, &[255, 0, 0, 0, 0, 255]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn a_picture_of_only_sky_is_not_the_room() {
        let sky = [219u8, 227, 237];
        let mut px: Vec<u8> = sky.repeat(100);
        assert!(!room_drawn(&px, sky));
        // A HUD's worth of other pixels is still no room; a floor across the picture is.
        px[..30].copy_from_slice(&[10u8, 10, 10].repeat(10));
        assert!(!room_drawn(&px, sky));
        px[..150].copy_from_slice(&[240u8, 230, 200].repeat(50));
        assert!(room_drawn(&px, sky));
    }
}
