//! The procedure catalog (`assets/procedures/*.toml`): what each procedure asks for, and the
//! server-side validation of a form against it, one error per field.

use madoguchi_shared::layout::Office;
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

pub use madoguchi_shared::api::{Field, FieldType, IdentityLevel, Procedure};

/// A form value as text, for people to read: empty when missing, strings as they are, numbers
/// and booleans (`true`, `false`) as JSON writes them.
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A problem with one field of a submitted form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// All procedures, with their patterns compiled.
#[derive(Debug, Default)]
pub struct Catalog {
    procedures: BTreeMap<String, (Procedure, Vec<Option<Regex>>)>,
}

/// A catalog file that cannot be used, with file and field named.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct CatalogError {
    pub file: String,
    pub field: String,
    pub message: String,
}

fn err(file: &str, field: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError { file: file.into(), field: field.into(), message: message.into() }
}

impl Catalog {
    /// Loads `dir/*.toml`, checking each procedure against the office's departments.
    pub fn load(dir: &Path, office: &Office) -> Result<Catalog, CatalogError> {
        let shown = dir.display().to_string();
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| err(&shown, "(directory)", e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for p in paths {
            let text =
                std::fs::read_to_string(&p).map_err(|e| err(&p.display().to_string(), "(file)", e.to_string()))?;
            files.push((p.display().to_string(), text));
        }
        Catalog::parse(&files, office)
    }

    /// Parses and validates procedure files given as `(name, text)`.
    pub fn parse(files: &[(String, String)], office: &Office) -> Result<Catalog, CatalogError> {
        let mut out = Catalog::default();
        for (file, text) in files {
            let p: Procedure = toml::from_str(text).map_err(|e| err(file, "(syntax)", e.to_string().trim()))?;
            let valid_id =
                |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_id(&p.id) {
                return Err(err(file, "id", format!("\"{}\" is not a valid id (a-z, 0-9, _)", p.id)));
            }
            if out.procedures.contains_key(&p.id) {
                return Err(err(file, "id", format!("procedure \"{}\" is defined twice", p.id)));
            }
            if office.department(&p.department).is_none() {
                return Err(err(file, "department", format!("unknown department \"{}\"", p.department)));
            }
            if p.name.ja.trim().is_empty() || p.name.en.trim().is_empty() {
                return Err(err(file, "name", "needs both ja and en"));
            }
            if p.fields.is_empty() {
                return Err(err(file, "field", "a procedure needs at least one field"));
            }
            let mut seen = HashSet::new();
            let mut patterns = Vec::new();
            for (i, f) in p.fields.iter().enumerate() {
                let at = |k: &str| format!("field[{i}].{k}");
                if !valid_id(&f.id) {
                    return Err(err(file, at("id"), format!("\"{}\" is not a valid id", f.id)));
                }
                if !seen.insert(f.id.as_str()) {
                    return Err(err(file, at("id"), format!("\"{}\" appears twice", f.id)));
                }
                if f.label.ja.trim().is_empty() || f.label.en.trim().is_empty() {
                    return Err(err(file, at("label"), "needs both ja and en"));
                }
                if f.kind == FieldType::Choice && f.choices.is_empty() {
                    return Err(err(file, at("choices"), "a choice field needs choices"));
                }
                if f.kind != FieldType::Choice && !f.choices.is_empty() {
                    return Err(err(file, at("choices"), "only choice fields have choices"));
                }
                if let Some(c) = f.choices.iter().find(|c| !f.choice_labels.contains_key(*c)) {
                    return Err(err(file, at("choice_labels"), format!("choice \"{c}\" has no label")));
                }
                if let Some(c) = f.choice_labels.keys().find(|c| !f.choices.contains(*c)) {
                    return Err(err(file, at("choice_labels"), format!("\"{c}\" is not one of the choices")));
                }
                if let Some((c, _)) =
                    f.choice_labels.iter().find(|(_, n)| n.ja.trim().is_empty() || n.en.trim().is_empty())
                {
                    return Err(err(file, at("choice_labels"), format!("the label of \"{c}\" needs both ja and en")));
                }
                if let (Some(lo), Some(hi)) = (f.min, f.max)
                    && lo > hi
                {
                    return Err(err(file, at("min"), format!("min {lo} is above max {hi}")));
                }
                let re = match &f.pattern {
                    Some(pat) => {
                        if f.kind != FieldType::Text {
                            return Err(err(file, at("pattern"), "only text fields have a pattern"));
                        }
                        Some(Regex::new(pat).map_err(|e| err(file, at("pattern"), e.to_string()))?)
                    }
                    None => None,
                };
                patterns.push(re);
            }
            out.procedures.insert(p.id.clone(), (p, patterns));
        }
        if out.procedures.is_empty() {
            return Err(err("procedures", "(directory)", "no procedures found"));
        }
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Option<&Procedure> {
        self.procedures.get(id).map(|(p, _)| p)
    }

    pub fn all(&self) -> impl Iterator<Item = &Procedure> {
        self.procedures.values().map(|(p, _)| p)
    }

    pub fn len(&self) -> usize {
        self.procedures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procedures.is_empty()
    }

    /// Checks `form` against procedure `id`. With `complete`, required fields must be present
    /// (submission); without, a partial draft is fine but every present value must be valid.
    /// Returns the cleaned form (nulls dropped) or every field's problem.
    pub fn validate(&self, id: &str, form: &Value, complete: bool) -> Result<Map<String, Value>, Vec<FieldError>> {
        let Some((proc, patterns)) = self.procedures.get(id) else {
            return Err(vec![FieldError {
                field: "procedure_id".into(),
                code: "unknown_procedure",
                message: format!("no procedure \"{id}\""),
            }]);
        };
        let Some(obj) = form.as_object() else {
            return Err(vec![FieldError {
                field: "form_data".into(),
                code: "not_an_object",
                message: "form data must be a JSON object".into(),
            }]);
        };
        let mut errors = Vec::new();
        for key in obj.keys() {
            if !proc.fields.iter().any(|f| &f.id == key) {
                errors.push(FieldError {
                    field: key.clone(),
                    code: "unknown_field",
                    message: format!("{} has no field \"{key}\"", proc.id),
                });
            }
        }
        let mut clean = Map::new();
        for (f, re) in proc.fields.iter().zip(patterns) {
            let fe = |code: &'static str, message: String| FieldError { field: f.id.clone(), code, message };
            let value = obj.get(&f.id).filter(|v| !v.is_null());
            let empty = matches!(value, Some(Value::String(s)) if s.trim().is_empty());
            let Some(v) = value.filter(|_| !empty) else {
                if complete && f.required {
                    errors.push(fe("required", format!("{} is required", f.label.en)));
                }
                continue;
            };
            let problem = match f.kind {
                FieldType::Text => match v.as_str() {
                    None => Some(fe("wrong_type", "expected text".into())),
                    Some(s) if s.chars().any(char::is_control) => {
                        Some(fe("invalid_characters", "control characters are not allowed".into()))
                    }
                    Some(s) if f.max_length.is_some_and(|m| s.chars().count() > m) => {
                        Some(fe("too_long", format!("at most {} characters", f.max_length.unwrap_or(0))))
                    }
                    Some(s) if re.as_ref().is_some_and(|r| !r.is_match(s)) => Some(fe(
                        "pattern",
                        format!("does not match the expected format {}", f.pattern.as_deref().unwrap_or("")),
                    )),
                    Some(_) => None,
                },
                FieldType::Date => match v.as_str() {
                    Some(s) if valid_date(s) => None,
                    _ => Some(fe("invalid_date", "expected a date as YYYY-MM-DD".into())),
                },
                FieldType::Number => match v.as_i64() {
                    None => Some(fe("wrong_type", "expected a whole number".into())),
                    Some(n) if f.min.is_some_and(|m| n < m) => {
                        Some(fe("too_small", format!("at least {}", f.min.unwrap_or(0))))
                    }
                    Some(n) if f.max.is_some_and(|m| n > m) => {
                        Some(fe("too_large", format!("at most {}", f.max.unwrap_or(0))))
                    }
                    Some(_) => None,
                },
                FieldType::Choice => match v.as_str() {
                    Some(s) if f.choices.iter().any(|c| c == s) => None,
                    _ => Some(fe("invalid_choice", format!("one of: {}", f.choices.join(", ")))),
                },
                FieldType::Boolean => match v {
                    Value::Bool(_) => None,
                    _ => Some(fe("wrong_type", "expected true or false".into())),
                },
            };
            match problem {
                Some(p) => errors.push(p),
                None => {
                    clean.insert(f.id.clone(), v.clone());
                }
            }
        }
        if errors.is_empty() { Ok(clean) } else { Err(errors) }
    }
}

/// `YYYY-MM-DD` naming a real day.
fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    let Ok(month) = time::Month::try_from(m as u8) else { return false };
    (1900..=2200).contains(&y) && d >= 1 && d <= u32::from(time::util::days_in_month(month, y as i32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_shared::layout::Names;
    use serde_json::json;

    fn office() -> Office {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets");
        crate::assets::load_office(Path::new(dir)).unwrap()
    }

    fn catalog() -> Catalog {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/procedures");
        Catalog::load(Path::new(dir), &office()).unwrap()
    }

    #[test]
    fn the_shipped_catalog_loads_and_has_the_six_procedures() {
        let c = catalog();
        for id in [
            "moving_in",
            "moving_out",
            "residence_certificate",
            "child_allowance",
            "long_term_care",
            "health_insurance_enrolment",
        ] {
            assert!(c.get(id).is_some(), "missing {id}");
        }
    }

    /// The shipped files give every name in all six languages (a missing one would show as
    /// Japanese with English beside it; here that would be an oversight).
    #[test]
    fn the_shipped_names_are_in_every_language() {
        let office = office();
        let c = catalog();
        let mut names: Vec<(String, &Names)> = vec![("office".into(), &office.name)];
        for d in &office.departments {
            names.push((format!("department {}", d.id), &d.name));
        }
        for r in &office.rooms {
            names.push((format!("room {}", r.file.id), &r.file.name));
        }
        for p in c.all() {
            names.push((format!("{}.name", p.id), &p.name));
            names.extend(p.documents.iter().map(|d| (format!("{}.documents", p.id), d)));
            for f in &p.fields {
                names.push((format!("{}.{}", p.id, f.id), &f.label));
                names.extend(f.choice_labels.iter().map(|(k, n)| (format!("{}.{}={k}", p.id, f.id), n)));
            }
        }
        assert!(names.len() > 60, "{}", names.len());
        for (what, n) in names {
            for (lang, given) in [("zh", &n.zh), ("ko", &n.ko), ("vi", &n.vi)] {
                assert!(given.as_deref().is_some_and(|g| !g.trim().is_empty()), "{what} has no {lang} name");
            }
        }
    }

    #[test]
    fn every_field_problem_is_reported_at_once() {
        let c = catalog();
        let form = json!({
            "full_name": "",
            "birth_date": "2024-02-30",
            "postal_code": "12-34567",
            "household_role": "king",
            "nonsense": 1
        });
        let errs = c.validate("moving_in", &form, true).unwrap_err();
        let by: BTreeMap<_, _> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(by["full_name"], "required");
        assert_eq!(by["birth_date"], "invalid_date");
        assert_eq!(by["postal_code"], "pattern");
        assert_eq!(by["household_role"], "invalid_choice");
        assert_eq!(by["nonsense"], "unknown_field");
    }

    #[test]
    fn a_draft_may_be_partial_but_a_submission_may_not() {
        let c = catalog();
        let form = json!({"full_name": "山田 太郎"});
        assert!(c.validate("moving_in", &form, false).is_ok());
        assert!(c.validate("moving_in", &form, true).is_err());
    }

    #[test]
    fn a_bad_catalog_names_file_and_field() {
        let bad = r#"
id = "x"
department = "nowhere"
name = { ja = "x", en = "x" }
identity_level = "guest"
[[field]]
id = "a"
type = "text"
label = { ja = "a", en = "a" }
"#;
        let e = Catalog::parse(&[("x.toml".into(), bad.into())], &office()).unwrap_err();
        assert_eq!((e.file.as_str(), e.field.as_str()), ("x.toml", "department"));
        let bad = bad.replace("nowhere", "taxation").replace("type = \"text\"", "type = \"text\"\npattern = \"([\"");
        let e = Catalog::parse(&[("x.toml".into(), bad)], &office()).unwrap_err();
        assert_eq!(e.field, "field[0].pattern");
        // Every choice reads as words: a choice without a label, or a label for no choice, is
        // refused.
        let choice = r#"
id = "x"
department = "taxation"
name = { ja = "x", en = "x" }
identity_level = "guest"
[[field]]
id = "a"
type = "choice"
label = { ja = "a", en = "a" }
choices = ["one", "two"]
[field.choice_labels]
one = { ja = "一", en = "One" }
"#;
        let e = Catalog::parse(&[("x.toml".into(), choice.into())], &office()).unwrap_err();
        assert_eq!(e.field, "field[0].choice_labels");
        assert!(e.to_string().contains("\"two\" has no label"), "{e}");
        let extra =
            format!("{choice}two = {{ ja = \"二\", en = \"Two\" }}\nthree = {{ ja = \"三\", en = \"Three\" }}\n");
        let e = Catalog::parse(&[("x.toml".into(), extra)], &office()).unwrap_err();
        assert!(e.to_string().contains("\"three\" is not one of the choices"), "{e}");
        let good = format!("{choice}two = {{ ja = \"二\", en = \"Two\" }}\n");
        let c = Catalog::parse(&[("x.toml".into(), good)], &office()).unwrap();
        let f = &c.get("x").unwrap().fields[0];
        assert_eq!(f.choice_label(Some(&Value::from("two"))).map(|n| n.ja.as_str()), Some("二"));
        assert_eq!(f.choice_label(Some(&Value::from("nine"))), None);
    }

    #[test]
    fn dates_must_be_real_days() {
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
        assert!(!valid_date("2023-13-01"));
        assert!(!valid_date("2023-1-01"));
    }
}
