//! The client's words: the office's Fluent catalog (`madoguchi_shared::i18n`, built from
//! `assets/i18n/*.ftl`) in the language the player chose.

use bevy::prelude::*;
pub use madoguchi_shared::i18n::Lang;
use madoguchi_shared::i18n::{Arg, Catalog};
use std::sync::Arc;

/// The catalog and the language in use. Switching language is setting `lang`.
#[derive(Resource)]
pub struct I18n {
    pub lang: Lang,
    catalog: Arc<Catalog>,
}

impl I18n {
    pub fn new(lang: Lang) -> I18n {
        I18n { lang, catalog: Arc::new(Catalog::new()) }
    }

    /// Whether the current language (or its Japanese fallback) has message `id`.
    pub fn has(&self, id: &str) -> bool {
        self.catalog.has(self.lang, id)
    }

    /// Message `id` with no arguments.
    pub fn t(&self, id: &str) -> String {
        self.catalog.format(self.lang, id, &[])
    }

    /// Message `id` with arguments: `tr.ta("ticket-serving", &[("label", "A-001".into())])`.
    pub fn ta(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.catalog.format(self.lang, id, args)
    }
}

impl Default for I18n {
    fn default() -> Self {
        I18n::new(Lang::Ja)
    }
}
