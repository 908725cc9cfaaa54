//! The transports renet's packets travel by: netcode over UDP on the desktop, a WebSocket in
//! the browser.

use renet::RenetClient;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
pub use native::transport;
#[cfg(target_arch = "wasm32")]
pub use web::transport;

/// A link state as a transport sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    Connecting,
    Open,
    Closed(String),
}

/// Moves renet packets between the client and the server.
pub trait Transport {
    /// Feeds what arrived into `renet`, and sends what `renet` has queued.
    fn pump(&mut self, renet: &mut RenetClient, dt: Duration);
    fn state(&self) -> LinkState;
    /// Closes the link (politely, if it can).
    fn close(&mut self);
}

/// What an HTTP round trip produced: a ready transport factory argument.
#[derive(Debug, Clone)]
pub enum Grant {
    /// A netcode connect token (desktop).
    Netcode { token: Vec<u8> },
    /// A WebSocket URL with its single-use ticket (browser).
    WebSocket { url: String },
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use renetcode::{ClientAuthentication, ConnectToken, NETCODE_MAX_PACKET_BYTES, NetcodeClient};
    use std::net::UdpSocket;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Netcode over UDP.
    pub struct UdpNetcode {
        socket: UdpSocket,
        netcode: NetcodeClient,
        buf: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
    }

    impl Transport for UdpNetcode {
        fn pump(&mut self, renet: &mut RenetClient, dt: Duration) {
            let server = self.netcode.server_addr();
            loop {
                match self.socket.recv_from(&mut self.buf[..]) {
                    Ok((len, addr)) if addr == server => {
                        if let Some(payload) = self.netcode.process_packet(&mut self.buf[..len]) {
                            renet.process_packet(payload);
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if let Some((packet, addr)) = self.netcode.update(dt) {
                let _ = self.socket.send_to(packet, addr);
            }
            if self.netcode.is_connected() {
                for p in renet.get_packets_to_send() {
                    match self.netcode.generate_payload_packet(&p) {
                        Ok((addr, payload)) => {
                            let _ = self.socket.send_to(payload, addr);
                        }
                        Err(_) => break,
                    }
                }
            }
        }

        fn state(&self) -> LinkState {
            if let Some(reason) = self.netcode.disconnect_reason() {
                LinkState::Closed(format!("{reason}"))
            } else if self.netcode.is_connected() {
                LinkState::Open
            } else {
                LinkState::Connecting
            }
        }

        fn close(&mut self) {
            if let Ok((addr, packet)) = self.netcode.disconnect() {
                let _ = self.socket.send_to(packet, addr);
            }
        }
    }

    pub fn transport(grant: &Grant) -> Result<Box<dyn Transport>, String> {
        let Grant::Netcode { token } = grant else { return Err("the desktop client speaks netcode".into()) };
        let token = ConnectToken::read(&mut token.as_slice()).map_err(|e| format!("connect token: {e}"))?;
        let server = token.server_addresses[0].ok_or("the connect token has no server address")?;
        let bind = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = UdpSocket::bind(bind).map_err(|e| format!("UDP: {e}"))?;
        socket.set_nonblocking(true).map_err(|e| format!("UDP: {e}"))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let netcode = NetcodeClient::new(now, ClientAuthentication::Secure { connect_token: token })
            .map_err(|e| format!("netcode: {e}"))?;
        Ok(Box::new(UdpNetcode { socket, netcode, buf: Box::new([0; NETCODE_MAX_PACKET_BYTES]) }))
    }
}

#[cfg(target_arch = "wasm32")]
mod web {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

    #[derive(Default)]
    struct Shared {
        inbound: VecDeque<Vec<u8>>,
        state: Option<LinkState>,
        /// When the last frame arrived (ms, `Date.now()`).
        last_rx: f64,
    }

    /// The server sends at every snapshot: this long without a frame is a dead connection.
    const SILENCE_MS: f64 = 10_000.0;

    /// The socket's event handlers, kept alive as long as the socket.
    type Handlers = (Closure<dyn FnMut(MessageEvent)>, Closure<dyn FnMut()>, Closure<dyn FnMut(CloseEvent)>);

    /// Renet packets over a browser WebSocket.
    pub struct WsLink {
        ws: WebSocket,
        shared: Rc<RefCell<Shared>>,
        since_send: Duration,
        _handlers: Handlers,
    }

    impl Transport for WsLink {
        fn pump(&mut self, renet: &mut RenetClient, dt: Duration) {
            let inbound: Vec<Vec<u8>> = self.shared.borrow_mut().inbound.drain(..).collect();
            for p in inbound {
                renet.process_packet(&p);
            }
            if self.state() != LinkState::Open {
                return;
            }
            self.since_send += dt;
            let packets = renet.get_packets_to_send();
            if packets.is_empty() && self.since_send >= Duration::from_secs(1) {
                let _ = self.ws.send_with_u8_array(&[]);
                self.since_send = Duration::ZERO;
            }
            for p in packets {
                let _ = self.ws.send_with_u8_array(&p);
                self.since_send = Duration::ZERO;
            }
        }

        fn state(&self) -> LinkState {
            let sh = self.shared.borrow();
            match &sh.state {
                Some(LinkState::Open) if js_sys::Date::now() - sh.last_rx > SILENCE_MS => {
                    LinkState::Closed("no word from the server".into())
                }
                s => s.clone().unwrap_or(LinkState::Connecting),
            }
        }

        fn close(&mut self) {
            let _ = self.ws.close();
        }
    }

    /// A link that is dropped (lost, replaced by a reconnect, or closed) closes its socket and
    /// detaches its handlers first, so the socket's late events never call a dropped closure
    /// and no socket outlives its link.
    impl Drop for WsLink {
        fn drop(&mut self) {
            self.ws.set_onmessage(None);
            self.ws.set_onopen(None);
            self.ws.set_onclose(None);
            let _ = self.ws.close();
        }
    }

    pub fn transport(grant: &Grant) -> Result<Box<dyn Transport>, String> {
        let Grant::WebSocket { url } = grant else { return Err("the browser client speaks WebSocket".into()) };
        let ws = WebSocket::new(url).map_err(|e| format!("WebSocket: {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(Shared::default()));
        let s = shared.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let mut sh = s.borrow_mut();
                sh.inbound.push_back(js_sys::Uint8Array::new(&buf).to_vec());
                sh.last_rx = js_sys::Date::now();
            }
        });
        let s = shared.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let mut sh = s.borrow_mut();
            sh.state = Some(LinkState::Open);
            sh.last_rx = js_sys::Date::now();
        });
        let s = shared.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let reason = if e.reason().is_empty() { format!("connection closed ({})", e.code()) } else { e.reason() };
            s.borrow_mut().state = Some(LinkState::Closed(reason));
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Box::new(WsLink { ws, shared, since_send: Duration::ZERO, _handlers: (on_message, on_open, on_close) }))
    }
}
