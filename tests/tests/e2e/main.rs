//! The end-to-end tests, one binary: each module starts the real server (and, where it says, a
//! browser or the desktop client) and talks to it over loopback. One binary instead of one per
//! file, so that a change to the server links one test program, not fifteen.

mod audit;
mod authz;
mod browser_harness;
mod chat;
mod console;
mod consult;
mod consult_integrity;
mod handshake;
mod http;
mod http_limits;
mod languages;
mod media_limits;
mod movement;
mod native_client;
mod openapi_contract;
mod page_link;
mod queue;
mod records;
mod revocation;
mod robustness;
mod sessions;
mod signin;
mod text_mode;
mod web_client;
mod websocket;
