//! Room chat: delivered to the room and nowhere else; too long, too fast or empty is refused
//! with a code, never silently dropped.

use madoguchi_shared::ClientMessage;
use madoguchi_shared::ErrorCode;
use madoguchi_shared::limits::{CHAT_BURST, CHAT_MAX_CHARS};
use madoguchi_shared::quant::{Point, QPos};
use madoguchi_tests::{Harness, SOON, office, pump_all, pump_until};
use std::time::Duration;

#[test]
fn chat_reaches_your_room_and_not_others() {
    let o = office();
    let counters = o.room_index("counters").unwrap();
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let mut c = h.join("Chika");
    c.send(&ClientMessage::MoveTo { target: QPos::from_point(Point::new(12.0, 15.6)), run: true });
    assert!(pump_until(&mut [&mut a, &mut b, &mut c], Duration::from_secs(10), |bs| bs[2].room == Some(counters)));
    a.chat("転入届はどこですか?");
    let a_id = a.me.unwrap();
    assert!(
        pump_until(&mut [&mut a, &mut b, &mut c], SOON, |bs| bs[1].chats.len() == 1 && bs[0].chats.len() == 1),
        "Bunta (same room) and Aiko (echo) receive the line"
    );
    assert_eq!(b.chats[0], (a_id, "Aiko".to_string(), "転入届はどこですか?".to_string()));
    pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_millis(500));
    assert!(c.chats.is_empty(), "Chika, in another room, must not receive it: {:?}", c.chats);
}

#[test]
fn over_long_chat_is_refused_with_its_code() {
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    a.chat(&"あ".repeat(CHAT_MAX_CHARS + 1));
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| !bs[0].errors.is_empty()));
    assert_eq!(a.errors[0].0, ErrorCode::ChatTooLong);
    assert!(a.errors[0].1.contains(&CHAT_MAX_CHARS.to_string()), "the message names the limit: {}", a.errors[0].1);
    // Exactly the limit is fine.
    a.chat(&"あ".repeat(CHAT_MAX_CHARS));
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[1].chats.len() == 1));
    assert_eq!(a.errors.len(), 1);
    assert!(h.metric("madoguchi_refused_messages_total{reason=\"chat_too_long\"}") >= 1.0);
}

#[test]
fn too_rapid_chat_is_refused_with_its_code() {
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let sent = CHAT_BURST as usize + 3;
    for i in 0..sent {
        a.chat(&format!("line {i}"));
    }
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].chats.len() + bs[0].errors.len() >= sent));
    pump_all(&mut [&mut a, &mut b], Duration::from_millis(300));
    assert_eq!(b.chats.len(), CHAT_BURST as usize, "the burst gets through");
    assert_eq!(a.errors.len(), 3, "the rest are refused: {:?}", a.errors);
    assert!(a.errors.iter().all(|(c, _)| *c == ErrorCode::ChatRateLimited));
    assert!(a.errors[0].1.contains("wait"), "the message says to wait: {}", a.errors[0].1);
    // Refused lines never reach anyone.
    assert!(b.chats.iter().all(|(_, _, t)| !t.ends_with(&format!("{}", sent - 1))));
}

#[test]
fn control_characters_are_stripped_and_empty_chat_is_refused() {
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    a.chat("hello\u{0007}\nworld\u{202E}");
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[1].chats.len() == 1));
    assert_eq!(b.chats[0].2, "helloworld");
    a.chat(" \n\t ");
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| !bs[0].errors.is_empty()));
    assert_eq!(a.errors[0].0, ErrorCode::ChatEmpty);
}
