//! Frame pacing: on a device too weak for the office at full quality, the client draws less per
//! frame rather than stuttering. It watches how long frames take while it draws (not while the
//! consultation overlay has paused it) and steps the quality down when frames are slow for a
//! while, and back up when they have been quick for longer:
//!
//! - level 0: full quality (4× multisampling, the screen's own resolution);
//! - level 1: no multisampling, and in the browser ¾ of the resolution (about half the pixels);
//! - level 2: flat colours (every material unlit: a pixel costs a colour instead of the lighting
//!   model), and in the browser half the resolution (a quarter of the pixels).
//!
//! Measured in headless Chromium drawing with SwiftShader (a processor standing in for the GPU,
//! like a weak phone's), a frame's cost follows its pixels: at 960 × 600 the office drew 1.75
//! frames a second, at 480 × 300 8.75; multisampling and lighting changed little there. So
//! resolution is the step that counts in the browser; the desktop client, on real GPUs, keeps
//! its window's resolution and steps down multisampling and lighting only.
//!
//! In the browser `<body data-quality="0|1|2">` says the level (tests read it; `page` writes it).
//!
//! May use: nothing.

use bevy::prelude::*;

/// Frames are measured in windows of this many seconds of drawing.
const WINDOW_SECS: f32 = 2.0;
/// A window whose frames take longer than this on average (under 20 a second) is slow.
const SLOW_FRAME: f32 = 1.0 / 20.0;
/// A window whose frames take less than this on average (over 40 a second) is quick.
const QUICK_FRAME: f32 = 1.0 / 40.0;
/// Quick windows in a row before the quality steps back up (a step down needs one slow window:
/// stuttering is worse than a plainer picture, and a step up that turns out slow costs a window).
const QUICK_WINDOWS_TO_STEP_UP: u32 = 5;
/// The lowest level.
pub const LOWEST: u8 = 2;

/// The quality level, and the frame times it is judged by.
#[derive(Resource, Debug, Default, Clone)]
pub struct Pacer {
    pub level: u8,
    window_time: f32,
    window_frames: u32,
    quick_windows: u32,
    /// Windows since the last step up (a step down soon after it means the step up failed).
    since_step_up: u32,
    /// Failed steps up so far: each doubles the quick stretch the next one waits for, so a device
    /// on the edge between two levels does not flip between them.
    failed_ups: u32,
}

impl Pacer {
    /// Counts one drawn frame that took `dt` seconds; returns the new level when it changes.
    pub fn observe(&mut self, dt: f32) -> Option<u8> {
        self.window_time += dt;
        self.window_frames += 1;
        if self.window_time < WINDOW_SECS {
            return None;
        }
        let mean = self.window_time / self.window_frames as f32;
        self.window_time = 0.0;
        self.window_frames = 0;
        self.since_step_up = self.since_step_up.saturating_add(1);
        if mean > SLOW_FRAME && self.level < LOWEST {
            if self.since_step_up <= 2 {
                self.failed_ups = (self.failed_ups + 1).min(4);
            }
            self.quick_windows = 0;
            self.level += 1;
            return Some(self.level);
        }
        if mean >= QUICK_FRAME {
            self.quick_windows = 0;
            return None;
        }
        self.quick_windows += 1;
        if self.quick_windows >= QUICK_WINDOWS_TO_STEP_UP << self.failed_ups && self.level > 0 {
            self.quick_windows = 0;
            self.since_step_up = 0;
            self.level -= 1;
            return Some(self.level);
        }
        None
    }

    /// Forgets a partly measured window (after a pause, frames are not the device's pace).
    pub fn restart_window(&mut self) {
        self.window_time = 0.0;
        self.window_frames = 0;
    }
}

/// Whether drawing is paused (the consultation overlay covers the game): set by the consultation.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrawingPaused(pub bool);

/// Whether the page is hidden (another tab, a locked phone): see [`follow_page_visibility`].
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageHidden(pub bool);

/// Follows the page's visibility (`<body data-hidden>`). A hidden page gets no animation frames,
/// and the game updates (and so answers the office, which drops a client silent for 10 s) only
/// in one: the page (`play.html`) then hands out its animation frames from a 1 s timer, so the
/// game keeps its connection, hears its call and chimes. Frame pacing ignores those frames.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn follow_page_visibility(mut occluded: MessageReader<bevy::window::WindowOccluded>, mut hidden: ResMut<PageHidden>) {
    let Some(now) = occluded.read().last().map(|o| o.occluded) else { return };
    if now == hidden.0 {
        return;
    }
    hidden.0 = now;
    info!(hidden = now, "the page is {}", if now { "hidden: drawing once a second" } else { "shown again" });
}

/// The multisampling of a level.
pub fn msaa(level: u8) -> Msaa {
    if level == 0 { Msaa::Sample4 } else { Msaa::Off }
}

/// Whether materials are lit at a level.
pub fn lit(level: u8) -> bool {
    level < LOWEST
}

/// The share of the screen's resolution drawn at a level, where the platform can scale it.
pub fn render_scale(level: u8, scales: bool) -> f32 {
    match level {
        _ if !scales => 1.0,
        0 => 1.0,
        1 => 0.75,
        _ => 0.5,
    }
}

fn pace(
    time: Res<Time<Real>>,
    paused: Res<DrawingPaused>,
    hidden: Res<PageHidden>,
    mut pacer: ResMut<Pacer>,
    mut was_paused: Local<bool>,
    mut cameras: Query<&mut Msaa, With<Camera3d>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut ui_scale: ResMut<UiScale>,
) {
    if paused.0 || hidden.0 {
        *was_paused = true;
        return;
    }
    if std::mem::take(&mut *was_paused) {
        pacer.restart_window();
        return;
    }
    let Some(level) = pacer.observe(time.delta_secs()) else { return };
    info!(level, "frame pacing: drawing at quality level {level} (0 is full)");
    for mut m in &mut cameras {
        *m = msaa(level);
    }
    // The canvas is laid out at `k` times the page's size and stretched back; the UI is scaled
    // by the same `k`, so it keeps its size on the screen.
    let k = render_scale(level, crate::platform::SCALES_RESOLUTION);
    crate::platform::set_render_scale(k);
    ui_scale.0 = k;
    let unlit = !lit(level);
    for (_, m) in materials.iter_mut() {
        if m.unlit != unlit {
            m.unlit = unlit;
        }
    }
}

/// Materials made after a step down (a room entered, an avatar come) are drawn at the level too.
fn new_materials_follow(
    pacer: Res<Pacer>,
    mut events: MessageReader<AssetEvent<StandardMaterial>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let unlit = !lit(pacer.level);
    for e in events.read() {
        if let AssetEvent::Added { id } = e
            && let Some(m) = materials.get(*id)
            && m.unlit != unlit
            && let Some(mut m) = materials.get_mut(*id)
        {
            m.unlit = unlit;
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Pacer>()
        .init_resource::<DrawingPaused>()
        .init_resource::<PageHidden>()
        .add_systems(Last, (pace, new_materials_follow));
    #[cfg(target_arch = "wasm32")]
    app.add_systems(PreUpdate, follow_page_visibility);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Frame times are powers of two, so that windows add up exactly.
    const QUICK: f32 = 1.0 / 64.0;
    const MIDDLING: f32 = 1.0 / 32.0;
    const SLOW: f32 = 1.0 / 8.0;

    fn frames(p: &mut Pacer, dt: f32, secs: f32) -> Vec<u8> {
        let mut changes = Vec::new();
        for _ in 0..(secs / dt).round() as u32 {
            changes.extend(p.observe(dt));
        }
        changes
    }

    #[test]
    fn slow_frames_step_down_one_level_per_window_to_the_lowest() {
        let mut p = Pacer::default();
        assert_eq!(frames(&mut p, QUICK, 10.0), Vec::<u8>::new(), "a quick device stays at full quality");
        assert_eq!(frames(&mut p, MIDDLING, 10.0), Vec::<u8>::new(), "and so does a middling one");
        assert_eq!(frames(&mut p, SLOW, 2.0), vec![1]);
        assert_eq!(frames(&mut p, SLOW, 10.0), vec![2], "then the cap, and no lower");
        assert_eq!(p.level, LOWEST);
    }

    #[test]
    fn quick_frames_step_back_up_only_after_a_long_stretch() {
        let mut p = Pacer { level: 1, ..default() };
        assert_eq!(frames(&mut p, QUICK, 8.0), Vec::<u8>::new(), "four quick windows are not enough");
        assert_eq!(frames(&mut p, QUICK, 2.0), vec![0]);
        // One middling window in between starts the count again.
        let mut p = Pacer { level: 1, ..default() };
        frames(&mut p, QUICK, 8.0);
        frames(&mut p, MIDDLING, 2.0);
        assert_eq!(frames(&mut p, QUICK, 8.0), Vec::<u8>::new());
        assert_eq!(p.level, 1);
    }

    #[test]
    fn a_device_on_the_edge_does_not_flip_between_levels() {
        // Quick at level 1, too slow at full quality.
        let mut p = Pacer { level: 1, ..default() };
        let mut changes = Vec::new();
        for _ in 0..(120.0 / QUICK) as u32 {
            changes.extend(p.observe(if p.level == 0 { SLOW } else { QUICK }));
        }
        // Up after 10 s, down again, up after 20 s, down, up after 40 s, down: not every 12 s.
        assert_eq!(changes, vec![0, 1, 0, 1, 0, 1]);
        assert_eq!(p.failed_ups, 3);
    }

    #[test]
    fn the_levels_draw_less() {
        assert_eq!(msaa(0), Msaa::Sample4);
        assert_eq!(msaa(1), Msaa::Off);
        assert!(lit(0) && lit(1) && !lit(LOWEST));
        assert_eq!([0, 1, 2].map(|l| render_scale(l, true)), [1.0, 0.75, 0.5]);
        assert_eq!([0, 1, 2].map(|l| render_scale(l, false)), [1.0; 3]);
    }
}
