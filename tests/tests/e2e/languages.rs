//! Six languages: the text mode and the 3D office in Simplified Chinese, Korean and Vietnamese,
//! picked by the browser's own language, and in やさしい日本語 (easy Japanese: no browser asks
//! for it, so the pages are opened with `?lang=ja-easy`), in headless Chromium
//! (`tests/browser/languages.mjs`),
//! with screenshots in `target/screenshots/languages/`. The words the pages must show come from
//! the same Fluent catalogs and office files the server uses, so a page that fell back to
//! Japanese or English fails.

use madoguchi_shared::i18n::{Catalog, Lang};
use madoguchi_tests::{Harness, browser_report, screenshots};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[test]
fn the_text_mode_and_the_3d_office_speak_chinese_korean_vietnamese_and_easy_japanese() {
    let _one = crate::web_client::BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/dist"));
    assert!(dist.join("madoguchi_bg.wasm").exists(), "the browser client is not built: run scripts/build-web");
    let assets = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets"));
    let office = madoguchi_server::assets::load_office(assets).expect("the office");
    let dept = office.department("resident_registration").expect("the department");
    let lobby = office.rooms.iter().find(|r| r.file.id == "lobby").expect("the lobby");
    let catalog = Catalog::new();
    let mut words = serde_json::Map::new();
    for (lang, locale, name) in [
        (Lang::ZhHans, "zh-CN", "王晓明"),
        (Lang::Ko, "ko-KR", "김민준"),
        (Lang::Vi, "vi-VN", "Nguyễn Thị Hương"),
        (Lang::JaEasy, "ja-JP", "やまだ はなこ"),
    ] {
        let t = |id: &str| catalog.format(lang, id, &[]);
        // Every word checked differs from its Japanese and English forms: finding it proves the
        // page is in this language.
        for id in ["text-front-enter-3d", "text-take-button", "ticket-none", "play-name", "play-enter"] {
            assert!(t(id) != catalog.format(Lang::Ja, id, &[]) && t(id) != catalog.format(Lang::En, id, &[]), "{id}");
        }
        // Easy Japanese is Japanese: its department names are checked by "department" alone.
        let japanese: Vec<String> =
            if lang == Lang::JaEasy { vec![] } else { office.departments.iter().map(|d| d.name.ja.clone()).collect() };
        // A language no browser asks for is chosen in the address.
        let query = if lang == Lang::JaEasy { "lang=ja-easy" } else { "" };
        words.insert(
            lang.code().into(),
            json!({
                "locale": locale,
                "html_lang": lang.html_lang(),
                "name": name,
                "front_enter": t("text-front-enter-3d"),
                "department": lang.name(&dept.name),
                // No department may show in Japanese on the page.
                "japanese": japanese,
                "query": query,
                "take": t("text-take-button"),
                "ticket_none": t("ticket-none"),
                "lobby": lang.name(&lobby.file.name),
                "play_name": t("play-name"),
                "play_enter": t("play-enter"),
                "colors": (0..8).map(|i| t(&format!("look-color-{i}"))).collect::<Vec<_>>(),
            }),
        );
    }
    let dist_s = dist.display().to_string();
    let h = Harness::start(&["--always-open", "--sessions-per-minute", "0", "--web-dir", &dist_s]);
    let shots = screenshots("languages");
    let report = browser_report(
        "languages.mjs",
        &[("MADOGUCHI_BASE", &h.base()), ("WORDS", &Value::Object(words).to_string()), ("SCREENSHOTS", &shots)],
    );
    assert_eq!(report["screenshots"].as_array().map(Vec::len), Some(8), "{report}");

    // The clerk sees each resident's language, in the clerk's words and its own.
    let clerk = h.clerk("clerk.lang", "resident_registration");
    let (s, queue) = h.call("GET", "/api/v1/staff/queue", Some(&clerk), None);
    assert_eq!(s, 200, "{queue}");
    let mut langs: Vec<&str> = queue.as_array().unwrap().iter().filter_map(|t| t["language"].as_str()).collect();
    langs.sort();
    assert_eq!(langs, ["ja-easy", "ko", "vi", "zh-Hans"], "{queue}");
    let (s, v) = h.call("POST", "/api/v1/staff/desks/a1/take", Some(&clerk), None);
    assert_eq!(s, 200, "{v}");
    let (s, page) = h.get_with_headers("/staff?lang=ja", &[("cookie", &format!("madoguchi_staff={clerk}"))]);
    assert_eq!(s, 200);
    for shown in ["中国語（簡体字） · 简体中文", "韓国語 · 한국어", "ベトナム語 · Tiếng Việt"]
    {
        assert!(page.contains(shown), "the desk shows {shown}");
    }
}
