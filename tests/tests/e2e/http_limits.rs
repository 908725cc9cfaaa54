//! The HTTP listener's limits: slow clients are cut off, one address cannot hold every
//! connection, a full server makes newcomers wait rather than fail, one session cannot open
//! hundreds of event streams; and behind a reverse proxy, the client's address and origin are
//! taken from the proxy only when it is trusted.

use madoguchi_tests::Harness;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Whether the server closed `s` (EOF or reset) within `within`; `false` if it stayed open.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Sends a whole GET and reads the status code of the answer, if one comes within `within`.
fn status_of_get(s: &mut TcpStream, path: &str, within: Duration) -> Option<u16> {
    write!(s, "GET {path} HTTP/1.1\r\nHost: office.test\r\nConnection: close\r\n\r\n").ok()?;
    s.set_read_timeout(Some(within)).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn addr(h: &Harness) -> SocketAddr {
    h.server.ready.http
}

#[test]
fn a_slow_or_silent_client_is_cut_off_after_the_header_timeout() {
    let h = Harness::start(&["--http-header-timeout-secs", "2"]);
    // Slowloris: a request line, then a header byte a second, never finishing.
    let mut slow = TcpStream::connect(addr(&h)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: office.test\r\n").unwrap();
    let mut silent = TcpStream::connect(addr(&h)).unwrap();
    let start = Instant::now();
    let mut cut = false;
    while start.elapsed() < Duration::from_secs(6) {
        if slow.write_all(b"X").is_err() {
            cut = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(500)) {
            cut = true;
            break;
        }
    }
    let after = start.elapsed();
    assert!(cut, "a client dribbling its headers was never cut off");
    assert!(after >= Duration::from_millis(1500) && after < Duration::from_secs(5), "cut after {after:?}");
    // A connection that never sends anything is closed too.
    assert!(closed_within(&mut silent, Duration::from_secs(3)), "a silent connection stayed open");
    // Meanwhile, and after, everyone else is served.
    let mut ok = TcpStream::connect(addr(&h)).unwrap();
    assert_eq!(status_of_get(&mut ok, "/healthz", Duration::from_secs(3)), Some(200));
}

#[test]
fn one_address_holds_at_most_its_share_and_a_full_server_makes_newcomers_wait() {
    let h = Harness::start(&["--max-http-connections-per-address", "5", "--http-header-timeout-secs", "30"]);
    let held: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr(&h)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The sixth from the same address is closed at once.
    let mut sixth = TcpStream::connect(addr(&h)).unwrap();
    assert!(closed_within(&mut sixth, Duration::from_secs(2)), "a sixth connection from one address was kept");
    assert!(h.metric("madoguchi_http_connections_refused_total") >= 1.0);
    assert_eq!(h.metric("madoguchi_http_connections"), 5.0);
    // One closes: there is room again.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut again = TcpStream::connect(addr(&h)).unwrap();
    assert_eq!(status_of_get(&mut again, "/healthz", Duration::from_secs(3)), Some(200));

    // The whole server full: a newcomer waits in the backlog and is served once a slot frees.
    let h = Harness::start(&["--max-http-connections", "4", "--http-header-timeout-secs", "30"]);
    let mut held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr(&h)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut waiting = TcpStream::connect(addr(&h)).unwrap();
    assert_eq!(status_of_get(&mut waiting, "/healthz", Duration::from_millis(800)), None, "served beyond the cap");
    held.pop();
    let mut head = [0u8; 12];
    waiting.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    waiting.read_exact(&mut head).expect("the waiting request is answered once a connection closes");
    assert_eq!(&head[9..12], b"200");
}

/// A text-mode session cookie (`madoguchi_session=…`).
fn text_session(base: &str, http: &reqwest::Client, rt: &tokio::runtime::Runtime) -> String {
    rt.block_on(async {
        let r = http
            .post(format!("{base}/text/start"))
            .form(&[("name", "Aiko"), ("lang", "ja")])
            .send()
            .await
            .expect("start");
        let cookie = r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    })
}

#[test]
fn one_session_cannot_open_hundreds_of_event_streams() {
    let h = Harness::start(&["--max-http-connections-per-address", "1000", "--sessions-per-minute", "0"]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = h.base();
    let cookie = text_session(&base, &http, &rt);
    let statuses: Vec<Result<(u16, Option<reqwest::Response>), String>> = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..500 {
            let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
            set.spawn(async move {
                let r = http
                    .get(format!("{base}/text/events?lang=ja"))
                    .header("cookie", cookie)
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                // Keep open streams open until every request has its answer.
                Ok((status, (status == 200).then_some(r)))
            });
        }
        set.join_all().await
    });
    let mut open = Vec::new();
    let (mut ok, mut refused, mut other) = (0, 0, Vec::new());
    for s in statuses {
        match s {
            Ok((200, r)) => {
                ok += 1;
                open.push(r);
            }
            Ok((429, _)) => refused += 1,
            o => other.push(format!("{:?}", o.map(|(s, _)| s))),
        }
    }
    assert_eq!(ok, 4, "streams one session may hold");
    assert_eq!(refused, 496, "every other request refused with 429; others: {other:?}");
    // Another session is not affected.
    let other_cookie = text_session(&base, &http, &rt);
    let status = rt.block_on(async {
        http.get(format!("{base}/text/events?lang=ja")).header("cookie", other_cookie).send().await.unwrap().status()
    });
    assert_eq!(status.as_u16(), 200);
    // Closing the streams gives their slots back.
    drop(open);
    std::thread::sleep(Duration::from_millis(300));
    let status = rt.block_on(async {
        http.get(format!("{base}/text/events?lang=ja")).header("cookie", cookie).send().await.unwrap().status()
    });
    assert_eq!(status.as_u16(), 200, "a closed stream's slot is free again");
}

/// Creates guest sessions from loopback with the given `X-Forwarded-For` values: the statuses.
fn guests_forwarded_for(h: &Harness, forwarded: &[&str]) -> Vec<u16> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let mut out = Vec::new();
        for f in forwarded {
            let r = http
                .post(format!("{}/api/v1/sessions/guest", h.base()))
                .header("x-forwarded-for", *f)
                .json(&serde_json::json!({"display_name": "Aiko", "locale": "ja"}))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    })
}

#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"];
    // Nobody trusted: X-Forwarded-For is ignored; every request is loopback's, which has 3.
    let h = Harness::start(&["--sessions-per-minute", "3"]);
    assert_eq!(guests_forwarded_for(&h, &spoofed), [201, 201, 201, 429]);
    drop(h);
    // Loopback is the trusted proxy: each forwarded client has its own 3.
    let h = Harness::start(&["--sessions-per-minute", "3", "--trusted-proxies", "127.0.0.0/8,::1"]);
    assert_eq!(guests_forwarded_for(&h, &spoofed), [201, 201, 201, 201]);
    let same = ["198.51.100.7"; 4];
    assert_eq!(guests_forwarded_for(&h, &same), [201, 201, 201, 429]);
    // A client's own forged entry, left of what the proxy appended, is not believed.
    let forged = ["1.1.1.1, 198.51.100.7", "2.2.2.2, 198.51.100.7"];
    assert_eq!(guests_forwarded_for(&h, &forged), [429, 429]);
}

/// Starts a text-mode session with a cross-host `Origin`, as a browser behind a proxy that
/// rewrites `Host` sends it: the status.
fn start_with_origin(h: &Harness, origin: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    rt.block_on(async {
        http.post(format!("{}/text/start", h.base()))
            .header("origin", origin)
            .form(&[("name", "Aiko"), ("lang", "ja")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[test]
fn the_form_origin_is_the_public_url_when_one_is_set() {
    let h = Harness::start(&[]);
    assert_eq!(start_with_origin(&h, "https://madoguchi.example.jp"), 403, "Origin differs from Host");
    drop(h);
    let h = Harness::start(&["--public-url", "https://madoguchi.example.jp/"]);
    assert_eq!(start_with_origin(&h, "https://madoguchi.example.jp"), 303);
    assert_eq!(start_with_origin(&h, "https://evil.example"), 403);
}
