//! The client's words, in Project Fluent files (`assets/i18n/*.ftl`): Japanese, やさしい日本語
//! (easy Japanese, for residents still learning it) and English. The files are built in, so the
//! browser fetches nothing more; a missing message falls back to Japanese, then to its id.

use bevy::prelude::*;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use madoguchi_shared::layout::Names;

/// The languages the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Ja,
    /// やさしい日本語: kana, short words, spaces between them.
    JaEasy,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Ja, Lang::JaEasy, Lang::En];

    /// The tag sent to the server in `Hello` and used in page addresses.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::JaEasy => "ja-easy",
            Lang::En => "en",
        }
    }

    /// A tag as given on the command line or in the page address; unknown tags are Japanese.
    pub fn from_code(code: &str) -> Lang {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Lang::En,
            "ja-easy" | "easy" | "yasashii" => Lang::JaEasy,
            _ => Lang::Ja,
        }
    }

    /// The language's own name, for the join screen.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::JaEasy => "やさしい にほんご",
            Lang::En => "English",
        }
    }

    /// A layout name (room, department, door) in this language.
    pub fn name(self, n: &Names) -> &str {
        match self {
            Lang::Ja => &n.ja,
            Lang::JaEasy => n.easy.as_deref().unwrap_or(&n.ja),
            Lang::En => &n.en,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Ja => include_str!("../../assets/i18n/ja.ftl"),
            Lang::JaEasy => include_str!("../../assets/i18n/ja-easy.ftl"),
            Lang::En => include_str!("../../assets/i18n/en.ftl"),
        }
    }
}

/// The bundles of every language and the one in use. Switching language is setting `lang`.
#[derive(Resource)]
pub struct I18n {
    pub lang: Lang,
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl I18n {
    pub fn new(lang: Lang) -> I18n {
        let bundles = Lang::ALL
            .iter()
            .map(|&l| {
                // The files are checked by the tests; a syntax error in one still keeps the rest.
                let res = FluentResource::try_new(l.source().to_string()).unwrap_or_else(|(res, errors)| {
                    warn!("{}.ftl: {errors:?}", l.code());
                    res
                });
                let tag = if l == Lang::En { "en" } else { "ja" };
                let mut bundle = FluentBundle::new_concurrent(vec![tag.parse().expect("a valid language tag")]);
                // No Unicode isolation marks around arguments: the font has no glyph for them.
                bundle.set_use_isolating(false);
                if let Err(errors) = bundle.add_resource(res) {
                    warn!("{}.ftl: {errors:?}", l.code());
                }
                (l, bundle)
            })
            .collect();
        I18n { lang, bundles }
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        &self.bundles.iter().find(|(l, _)| *l == lang).expect("every language has a bundle").1
    }

    /// Whether the current language (or its Japanese fallback) has message `id`.
    pub fn has(&self, id: &str) -> bool {
        self.bundle(self.lang).has_message(id) || self.bundle(Lang::Ja).has_message(id)
    }

    /// Message `id` with no arguments.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// Message `id` with arguments: `tr.ta("ticket-serving", &[("label", "A-001".into())])`.
    pub fn ta(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, v.clone());
        }
        self.format(id, Some(&fa))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        for lang in [self.lang, Lang::Ja] {
            let bundle = self.bundle(lang);
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let out = bundle.format_pattern(pattern, args, &mut errors);
                if !errors.is_empty() {
                    warn!("{}: {id}: {errors:?}", lang.code());
                }
                return out.into_owned();
            }
        }
        warn!("no message {id}");
        id.to_string()
    }
}

impl Default for I18n {
    fn default() -> Self {
        I18n::new(Lang::Ja)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(lang: Lang) -> BTreeSet<String> {
        let res = FluentResource::try_new(lang.source().to_string())
            .unwrap_or_else(|(_, e)| panic!("{}.ftl does not parse: {e:?}", lang.code()));
        res.entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_has_every_message_and_they_parse() {
        let ja = ids(Lang::Ja);
        assert!(ja.len() > 30, "{ja:?}");
        for lang in [Lang::JaEasy, Lang::En] {
            let other = ids(lang);
            let missing: Vec<_> = ja.difference(&other).collect();
            let extra: Vec<_> = other.difference(&ja).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", lang.code());
        }
    }

    #[test]
    fn arguments_are_filled_without_isolation_marks_and_missing_ids_fall_back() {
        let mut tr = I18n::new(Lang::En);
        let args = [("label", FluentValue::from("A-001")), ("position", FluentValue::from(3))];
        let waiting = |tr: &I18n| {
            let mut a = args.to_vec();
            a.push(("wait", tr.t("wait-unknown").into()));
            tr.ta("ticket-waiting", &a)
        };
        assert_eq!(waiting(&tr), "A-001  position 3  wait unknown");
        tr.lang = Lang::Ja;
        assert_eq!(waiting(&tr), "A-001  3番目  待ち時間の目安 不明");
        tr.lang = Lang::JaEasy;
        assert_eq!(waiting(&tr), "A-001  3ばんめ  まつ じかん わかりません");
        assert!(!waiting(&tr).contains(['\u{2068}', '\u{2069}']));
        assert_eq!(tr.t("no-such-message"), "no-such-message");
        assert_eq!(Lang::from_code("EN"), Lang::En);
        assert_eq!(Lang::from_code("ja-easy"), Lang::JaEasy);
        assert_eq!(Lang::from_code("fr"), Lang::Ja);
    }
}
