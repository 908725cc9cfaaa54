//! The office's words, in Project Fluent files (`assets/i18n/*.ftl`): Japanese, やさしい日本語
//! (easy Japanese, for residents still learning it), English, Simplified Chinese, Korean and
//! Vietnamese. Every surface uses them (the 3D client's HUD, the text mode, the consultation
//! page, the console's resident-facing words), so adding a language is adding a file. The files are built in; a missing message falls back to Japanese, then to
//! its id. A test fails if one language has a message another lacks.

use crate::layout::Names;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The languages of the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Ja,
    /// やさしい日本語: kana, short words, spaces between them.
    JaEasy,
    En,
    /// Simplified Chinese.
    ZhHans,
    Ko,
    Vi,
}

impl Lang {
    pub const ALL: [Lang; 6] = [Lang::Ja, Lang::JaEasy, Lang::En, Lang::ZhHans, Lang::Ko, Lang::Vi];

    /// The tag used in `Hello`, page addresses, forms and file names.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::JaEasy => "ja-easy",
            Lang::En => "en",
            Lang::ZhHans => "zh-Hans",
            Lang::Ko => "ko",
            Lang::Vi => "vi",
        }
    }

    /// The BCP 47 tag for pages' `lang` attributes (やさしい日本語 is Japanese to a browser).
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Ja | Lang::JaEasy => "ja",
            other => other.code(),
        }
    }

    /// A tag as given on the command line, in a page address or a form; unknown tags are
    /// Japanese.
    pub fn from_code(code: &str) -> Lang {
        Lang::from_tag(code).unwrap_or(Lang::Ja)
    }

    /// The office's language for a tag (any case, any region: `zh-CN`, `ko-KR`, `vi-VN`), if it
    /// has one.
    pub fn from_tag(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if matches!(code.as_str(), "ja-easy" | "easy" | "yasashii") {
            return Some(Lang::JaEasy);
        }
        match code.split(['-', '_']).next().unwrap_or("") {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            // Traditional-script readers too: simplified is the Chinese the office has.
            "zh" => Some(Lang::ZhHans),
            "ko" => Some(Lang::Ko),
            "vi" => Some(Lang::Vi),
            _ => None,
        }
    }

    /// The language a browser asks for most (`Accept-Language`, with its q-values), among the
    /// office's; `None` if it names none of them. At most 16 entries are read.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in header.split(',').take(16).enumerate() {
            let mut fields = part.split(';');
            let tag = fields.next().unwrap_or("").trim();
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            if q <= 0.0 || q.is_nan() {
                continue;
            }
            let Some(lang) = Lang::from_tag(tag) else { continue };
            // Highest q wins; among equals, the one named first.
            if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    /// The language's own name, for language pickers.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::JaEasy => "やさしい にほんご",
            Lang::En => "English",
            Lang::ZhHans => "简体中文",
            Lang::Ko => "한국어",
            Lang::Vi => "Tiếng Việt",
        }
    }

    /// A layout or catalog name (room, department, procedure, field) in this language. A
    /// language the file does not give falls back to Japanese with the English beside it, so a
    /// label is never empty and a reader of neither still has the English.
    pub fn name(self, n: &Names) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        let given = match self {
            Lang::Ja => return Cow::Borrowed(&n.ja),
            Lang::JaEasy => return Cow::Borrowed(n.easy.as_deref().unwrap_or(&n.ja)),
            Lang::En => return Cow::Borrowed(&n.en),
            Lang::ZhHans => n.zh.as_deref(),
            Lang::Ko => n.ko.as_deref(),
            Lang::Vi => n.vi.as_deref(),
        };
        match given.filter(|g| !g.trim().is_empty()) {
            Some(g) => Cow::Borrowed(g),
            None => Cow::Owned(format!("{} ({})", n.ja, n.en)),
        }
    }

    /// The catalog file's text.
    pub fn source(self) -> &'static str {
        match self {
            Lang::Ja => include_str!("../../assets/i18n/ja.ftl"),
            Lang::JaEasy => include_str!("../../assets/i18n/ja-easy.ftl"),
            Lang::En => include_str!("../../assets/i18n/en.ftl"),
            Lang::ZhHans => include_str!("../../assets/i18n/zh-Hans.ftl"),
            Lang::Ko => include_str!("../../assets/i18n/ko.ftl"),
            Lang::Vi => include_str!("../../assets/i18n/vi.ftl"),
        }
    }

    /// The staff console's messages (`assets/i18n/staff/`): Japanese and English, for clerks.
    /// やさしい日本語 is for residents, so the console in it is Japanese; in the other residents'
    /// languages it is English.
    pub fn staff_source(self) -> &'static str {
        match self {
            Lang::Ja | Lang::JaEasy => include_str!("../../assets/i18n/staff/ja.ftl"),
            _ => include_str!("../../assets/i18n/staff/en.ftl"),
        }
    }
}

/// An argument of a message.
pub type Arg<'a> = FluentValue<'a>;

/// Every language's messages, parsed once; shared by threads.
pub struct Catalog {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

impl Catalog {
    /// Parses every built-in file. A file with a syntax error keeps its other messages (the
    /// tests make sure none has one).
    pub fn new() -> Catalog {
        Catalog::from_sources(|l| l.source().to_string())
    }

    /// The office's messages and the staff console's, for the server's pages.
    pub fn with_staff() -> Catalog {
        Catalog::from_sources(|l| format!("{}\n{}", l.source(), l.staff_source()))
    }

    fn from_sources(source: impl Fn(Lang) -> String) -> Catalog {
        let bundles = Lang::ALL
            .iter()
            .map(|&l| {
                let res = FluentResource::try_new(source(l)).unwrap_or_else(|(res, _)| res);
                let mut bundle =
                    FluentBundle::new_concurrent(vec![l.html_lang().parse().expect("a valid language tag")]);
                // No Unicode isolation marks around arguments: fonts (the client's subset among
                // them) have no glyph for them, and pages do not need them.
                bundle.set_use_isolating(false);
                // A message defined twice keeps the first: the tests make sure none is.
                let _ = bundle.add_resource(res);
                (l, bundle)
            })
            .collect();
        Catalog { bundles }
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        &self.bundles.iter().find(|(l, _)| *l == lang).expect("every language has a bundle").1
    }

    /// Whether `lang` (or its Japanese fallback) has message `id`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundle(lang).has_message(id) || self.bundle(Lang::Ja).has_message(id)
    }

    /// Message `id` in `lang` with `args`: `catalog.format(Lang::En, "ticket-serving",
    /// &[("label", "A-001".into())])`. Falls back to Japanese, then to the id itself.
    pub fn format(&self, lang: Lang, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let fa = (!args.is_empty()).then(|| {
            let mut fa = FluentArgs::new();
            for (k, v) in args {
                fa.set(*k, v.clone());
            }
            fa
        });
        for lang in [lang, Lang::Ja] {
            let bundle = self.bundle(lang);
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return bundle.format_pattern(pattern, fa.as_ref(), &mut errors).into_owned();
            }
        }
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(lang: Lang) -> BTreeSet<String> {
        ids_of(lang, lang.source())
    }

    fn ids_of(lang: Lang, source: &str) -> BTreeSet<String> {
        let res = FluentResource::try_new(source.to_string())
            .unwrap_or_else(|(_, e)| panic!("{}.ftl does not parse: {e:?}", lang.code()));
        let mut seen = BTreeSet::new();
        for e in res.entries() {
            if let fluent_syntax::ast::Entry::Message(m) = e {
                assert!(seen.insert(m.id.name.to_string()), "{}.ftl: {} is defined twice", lang.code(), m.id.name);
            }
        }
        seen
    }

    #[test]
    fn the_console_has_every_message_in_japanese_and_english_and_none_twice() {
        let ja = ids_of(Lang::Ja, Lang::Ja.staff_source());
        let en = ids_of(Lang::En, Lang::En.staff_source());
        assert!(ja.len() > 20, "{ja:?}");
        assert_eq!(ja, en, "staff/ja.ftl and staff/en.ftl define the same messages");
        let office = ids(Lang::Ja);
        assert!(
            ja.is_disjoint(&office),
            "a console message shadows an office one: {:?}",
            ja.intersection(&office).collect::<Vec<_>>()
        );
        assert!(ja.iter().all(|id| id.starts_with("staff-")), "console messages start with staff-");
    }

    /// What a phone shows names no key: the touch hints, in every language.
    #[test]
    fn touch_hints_name_no_key() {
        let c = Catalog::new();
        for lang in Lang::ALL {
            for id in ["ticket-none-touch", "chat-hint-touch", "play-go"] {
                let t = c.format(lang, id, &[]);
                for key in ["Enter", "Esc", "Tab", "Shift", "WASD", "キー", "키", "phím", "键", " E "] {
                    assert!(!t.contains(key), "{lang:?} {id}: {t}");
                }
            }
            // The desktop's hint does name its key.
            assert!(c.format(lang, "chat-hint", &[]).contains("Enter"), "{lang:?}");
        }
    }

    #[test]
    fn every_language_has_every_message_and_they_parse() {
        let ja = ids(Lang::Ja);
        assert!(ja.len() > 30, "{ja:?}");
        for lang in Lang::ALL.into_iter().filter(|l| *l != Lang::Ja) {
            let other = ids(lang);
            let missing: Vec<_> = ja.difference(&other).collect();
            let extra: Vec<_> = other.difference(&ja).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", lang.code());
        }
    }

    #[test]
    fn arguments_are_filled_without_isolation_marks_and_missing_ids_fall_back() {
        let c = Catalog::new();
        let waiting = |lang| {
            let wait = c.format(lang, "wait-unknown", &[]);
            c.format(
                lang,
                "ticket-waiting",
                &[("label", "A-001".into()), ("position", 3.into()), ("wait", wait.into())],
            )
        };
        assert_eq!(waiting(Lang::En), "A-001  position 3  wait unknown");
        assert_eq!(waiting(Lang::Ja), "A-001  3番目  待ち時間の目安 不明");
        assert_eq!(waiting(Lang::JaEasy), "A-001  3ばんめ  まつ じかん わかりません");
        assert!(!waiting(Lang::JaEasy).contains(['\u{2068}', '\u{2069}']));
        assert_eq!(c.format(Lang::En, "no-such-message", &[]), "no-such-message");
        assert_eq!(Lang::from_code("EN"), Lang::En);
        assert_eq!(Lang::from_code("ja-easy"), Lang::JaEasy);
        assert_eq!(Lang::from_code("fr"), Lang::Ja);
    }

    #[test]
    fn accept_language_picks_the_best_known_language() {
        let pick = Lang::from_accept_language;
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::ZhHans));
        assert_eq!(pick("ko-KR"), Some(Lang::Ko));
        assert_eq!(pick("vi-VN,vi;q=0.9"), Some(Lang::Vi));
        assert_eq!(pick("fr-FR,fr;q=0.9,en;q=0.5,ja;q=0.7"), Some(Lang::Ja), "q-values, not order");
        assert_eq!(pick("en;q=0.5, ko;q=0.5"), Some(Lang::En), "equal q: the first named");
        assert_eq!(pick("de, fr"), None);
        assert_eq!(pick("ja;q=0, en"), Some(Lang::En), "q=0 means not wanted");
        assert_eq!(pick(""), None);
        assert_eq!(pick(&"xx,".repeat(10_000)), None, "long headers are cut short, not scanned");
        assert_eq!(Lang::from_code("zh-Hans"), Lang::ZhHans);
        assert_eq!(Lang::from_code("ZH-tw"), Lang::ZhHans);
        for l in Lang::ALL {
            assert_eq!(Lang::from_code(l.code()), l, "{} round-trips", l.code());
        }
    }

    #[test]
    fn a_name_missing_in_a_language_is_japanese_with_english_beside_it() {
        let n = Names {
            ja: "転入届".into(),
            en: "Moving-in notice".into(),
            easy: None,
            zh: Some("迁入申报".into()),
            ko: None,
            vi: Some(" ".into()),
        };
        assert_eq!(Lang::ZhHans.name(&n), "迁入申报");
        assert_eq!(Lang::Ko.name(&n), "転入届 (Moving-in notice)");
        assert_eq!(Lang::Vi.name(&n), "転入届 (Moving-in notice)", "a blank one counts as missing");
        assert_eq!(Lang::JaEasy.name(&n), "転入届");
    }

    #[test]
    fn english_plurals_follow_the_count() {
        let c = Catalog::new();
        let open = |n: u32| c.format(Lang::En, "text-dept-open", &[("desks", n.into())]);
        assert_eq!(open(1), "open (1 counter staffed)");
        assert_eq!(open(2), "open (2 counters staffed)");
        assert_eq!(c.format(Lang::Ja, "text-dept-open", &[("desks", 2.into())]), "受付中（窓口 2 か所）");
    }
}
