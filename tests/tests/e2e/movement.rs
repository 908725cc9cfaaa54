//! Avatars move under the server's rule: seen by others, stopped by walls, capped in speed,
//! and carried between rooms by doors.

use madoguchi_shared::limits::{AVATAR_RADIUS, INPUT_TTL, WALK_SPEED};
use madoguchi_shared::protocol::ServerMessage;
use madoguchi_shared::quant::Point;
use madoguchi_tests::{Harness, SOON, office, pump_all, pump_until, saw};
use std::time::{Duration, Instant};

#[test]
fn two_clients_see_each_other_walk() {
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let (a_id, b_id) = (a.me.unwrap(), b.me.unwrap());
    assert!(
        pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].others.contains_key(&b_id)
            && bs[1].others.contains_key(&a_id)),
        "each should see the other appear"
    );
    assert_eq!(b.others[&a_id].0, "Aiko", "names travel with appearances");
    let start = b.others[&a_id].1.to_point();
    // Aiko walks north for a second.
    a.walk_for(Point::new(0.0, WALK_SPEED), false, Duration::from_secs(1));
    let moved = pump_until(&mut [&mut a, &mut b], SOON, |bs| {
        let seen = bs[1].others[&a_id].1.to_point();
        seen.y - start.y > 1.0
    });
    assert!(moved, "Bunta should see Aiko move north: start {start:?}, now {:?}", b.others[&a_id].1.to_point());
    // Once Aiko stops, both settle on the same position.
    let agree = pump_until(&mut [&mut a, &mut b], SOON, |bs| {
        bs[0].pos.is_some_and(|own| bs[1].others[&a_id].1.to_point().distance(own) < 0.02)
    });
    assert!(agree, "both agree where Aiko is: {:?} vs {:?}", b.others[&a_id].1.to_point(), a.pos);
}

#[test]
fn walls_block() {
    let o = office();
    let lobby = o.room(o.room_index("lobby").unwrap()).unwrap();
    // The partition east of the entrance: [14.0, 1.0, 14.4, 4.0].
    let wall = lobby.solids.iter().find(|s| s.min.x == 14.0 && s.min.y == 1.0).expect("partition wall in lobby");
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let p0 = a.pos.unwrap();
    assert_eq!(p0, o.entry_point);
    // Walk east for 3 s: 4.8 m unobstructed, but the partition is 2 m away.
    a.walk_for(Point::new(WALK_SPEED, 0.0), false, Duration::from_secs(3));
    assert!(a.wait_until(SOON, |b| b.pos.is_some_and(|p| p.x > 13.0)), "Aiko should have walked east");
    pump_all(&mut [&mut a], Duration::from_millis(300));
    let p = a.pos.unwrap();
    let stop = wall.min.x - AVATAR_RADIUS;
    assert!((p.x - stop).abs() <= 0.02, "stopped flush against the wall at x={stop}, got {p:?}");
    assert!((p.y - p0.y).abs() < 0.02, "no sideways drift: {p:?}");
}

#[test]
fn an_input_not_renewed_lapses_to_a_stop() {
    let h = Harness::start(&[]);
    let mut a = h.join("Stalled");
    let p0 = a.pos.unwrap();
    // One input west, then silence (a client that stalled, or whose stop was lost): the avatar
    // walks for INPUT_TTL and stops, rather than walking on.
    a.walk(Point::new(-WALK_SPEED, 0.0), false);
    pump_all(&mut [&mut a], INPUT_TTL * 3);
    let moved = p0.x - a.pos.unwrap().x;
    let expected = WALK_SPEED * INPUT_TTL.as_secs_f32();
    assert!(
        (moved - expected).abs() <= WALK_SPEED * 0.15,
        "walked {moved} m on one input: {expected} m ({INPUT_TTL:?} at {WALK_SPEED} m/s) expected"
    );
    let p1 = a.pos.unwrap();
    pump_all(&mut [&mut a], Duration::from_millis(500));
    assert_eq!(a.pos.unwrap(), p1, "and stays stopped");
}

#[test]
fn an_input_faster_than_the_cap_is_clamped() {
    let h = Harness::start(&[]);
    let mut a = h.join("Speedy");
    let p0 = a.pos.unwrap();
    // 40 m/s west: unclamped, a second would slam into the west wall 11.7 m away.
    let t0 = Instant::now();
    a.walk_for(Point::new(-40.0, 0.0), false, Duration::from_secs(1));
    let elapsed = t0.elapsed().as_secs_f32();
    pump_all(&mut [&mut a], Duration::from_millis(300));
    let moved = p0.x - a.pos.unwrap().x;
    assert!(moved > 0.5, "it did move west: {moved}");
    assert!(
        moved <= WALK_SPEED * (elapsed + 0.2),
        "moved {moved} m in {elapsed} s: faster than the {WALK_SPEED} m/s cap"
    );
    // The server also says which input it applied.
    assert_eq!(a.ack, a.last_seq(), "snapshots acknowledge the last input applied");
}

#[test]
fn a_door_takes_you_to_the_other_room_and_you_stop_seeing_the_old_one() {
    let o = office();
    let lobby = o.room_index("lobby").unwrap();
    let counters = o.room_index("counters").unwrap();
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let mut b = h.join("Bunta");
    let (a_id, b_id) = (a.me.unwrap(), b.me.unwrap());
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| bs[0].others.contains_key(&b_id)));
    // The lobby's door to the counters spans x 10..14 at the north wall (y 15.2..16).
    a.send(&madoguchi_shared::ClientMessage::MoveTo {
        target: madoguchi_shared::quant::QPos::from_point(Point::new(12.0, 15.6)),
        run: true,
    });
    let arrived = pump_until(&mut [&mut a, &mut b], Duration::from_secs(10), |bs| bs[0].room == Some(counters));
    assert!(arrived, "Aiko should arrive in the counters room; room={:?} pos={:?}", a.room, a.pos);
    assert!(saw(&a, |m| matches!(m, ServerMessage::EnteredRoom { room, .. } if *room == counters)));
    let spawn = o.room(counters).unwrap().spawn("from_lobby").unwrap();
    assert!(a.pos.unwrap().distance(spawn) < 0.5, "arrives at the door's spawn point: {:?}", a.pos);
    // Bunta, left in the lobby, sees Aiko vanish; Aiko no longer sees Bunta.
    assert!(pump_until(&mut [&mut a, &mut b], SOON, |bs| !bs[1].others.contains_key(&a_id)), "Bunta still sees Aiko");
    assert!(saw(&b, |m| matches!(m, ServerMessage::Vanished { ids } if ids.contains(&a_id))));
    pump_all(&mut [&mut a, &mut b], Duration::from_millis(500));
    assert!(!a.others.contains_key(&b_id), "Aiko must not see the lobby any more");
    assert_eq!(b.room, Some(lobby));
    // Someone who then enters the counters room sees Aiko there.
    let mut c = h.join("Chika");
    c.send(&madoguchi_shared::ClientMessage::MoveTo {
        target: madoguchi_shared::quant::QPos::from_point(Point::new(12.0, 15.6)),
        run: true,
    });
    assert!(
        pump_until(&mut [&mut a, &mut b, &mut c], Duration::from_secs(10), |bs| bs[2].others.contains_key(&a_id)),
        "Chika, arriving in the counters room, should see Aiko"
    );
}

#[test]
fn click_to_move_walks_around_a_wall_not_into_it() {
    let h = Harness::start(&[]);
    let mut a = h.join("Aiko");
    let go = |a: &mut madoguchi_bots::Bot, p: Point| {
        a.send(&madoguchi_shared::ClientMessage::MoveTo {
            target: madoguchi_shared::quant::QPos::from_point(p),
            run: true,
        })
    };
    // South of the lobby's block [3, 7, 7, 8], then a point straight north of it: the straight
    // line runs into the block; the planned route goes round it.
    go(&mut a, Point::new(5.0, 5.0));
    assert!(
        pump_until(&mut [&mut a], Duration::from_secs(8), |bs| bs[0]
            .pos
            .is_some_and(|p| p.distance(Point::new(5.0, 5.0)) < 0.1)),
        "reaches the start point: {:?}",
        a.pos
    );
    let goal = Point::new(5.0, 9.5);
    go(&mut a, goal);
    let arrived =
        pump_until(&mut [&mut a], Duration::from_secs(10), |bs| bs[0].pos.is_some_and(|p| p.distance(goal) < 0.1));
    assert!(arrived, "walks round the block to {goal:?}; stopped at {:?}", a.pos);
    // A click on the block itself stops beside it, not inside.
    go(&mut a, Point::new(5.0, 7.5));
    pump_all(&mut [&mut a], Duration::from_secs(3));
    let p = a.pos.unwrap();
    assert!(
        !(p.x > 3.0 - AVATAR_RADIUS
            && p.x < 7.0 + AVATAR_RADIUS
            && p.y > 7.0 - AVATAR_RADIUS
            && p.y < 8.0 + AVATAR_RADIUS),
        "{p:?}"
    );
    assert!(p.distance(Point::new(5.0, 7.5)) < 1.5, "ends next to the clicked block: {p:?}");
}
