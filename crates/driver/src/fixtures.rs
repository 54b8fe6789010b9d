//! Fixture catalogs that payloads are drawn from: prompts grouped by intent, TTS
//! texts and personality profiles.
//!
//! All three load into one shape, a list of [`Entry`]s each with an id and one or more
//! interchangeable variants, so that payload choice (Zipf over entries, then uniform
//! over variants) works the same for every kind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::scenario::{Locator, ScenarioError};

/// One catalog entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Intent, text or profile id; recorded with each request.
    pub id: Arc<str>,
    /// Interchangeable texts (canonical prompt first, then paraphrases).
    pub variants: Vec<Arc<str>>,
    /// System prompt of a long-context intent.
    pub system: Option<Arc<str>>,
    /// The request body of a personality profile.
    pub profile: Option<Arc<serde_json::Value>>,
}

/// A loaded catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Its entries, in file order.
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptFile {
    #[allow(dead_code)]
    domain: String,
    #[allow(dead_code)]
    description: String,
    intent: Vec<IntentRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentRow {
    id: String,
    canonical: String,
    paraphrases: Vec<String>,
    system: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFile {
    #[allow(dead_code)]
    description: Option<String>,
    text: Vec<TextRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextRow {
    id: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[allow(dead_code)]
    description: Option<String>,
    profile: Vec<ProfileRow>,
}

/// A child profile, sent as-is to the personality service.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ProfileRow {
    age: u32,
    interests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    story_theme: Option<String>,
}

/// What a catalog file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatalogKind {
    /// `[[intent]]` tables.
    Prompts,
    /// `[[text]]` tables.
    Texts,
    /// `[[profile]]` tables.
    Profiles,
}

/// Finds a file named relative to a scenario: in the scenario's folder, then in each
/// parent folder (so `scenarios/x.toml` finds `fixtures/...` at the repository root),
/// then in the working directory. The parents are those of the folder as written
/// first, then of the folder it really is: a scenario named `x.toml` or `./x.toml`
/// from inside `scenarios/` has only `.` as written.
pub fn resolve(base: &Path, relative: &Path) -> Option<PathBuf> {
    if relative.is_absolute() {
        return relative.exists().then(|| relative.to_owned());
    }
    let in_folders = |base: &Path| {
        base.ancestors()
            .map(|dir| dir.join(relative))
            .find(|p| p.is_file())
    };
    let folder = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    in_folders(folder)
        .or_else(|| in_folders(&std::fs::canonicalize(folder).ok()?))
        .or_else(|| relative.is_file().then(|| relative.to_owned()))
}

/// Loads catalogs once each, however many requests name them.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    loaded: HashMap<(PathBuf, CatalogKind), Arc<Catalog>>,
}

impl CatalogCache {
    pub fn load(&mut self, path: &Path, kind: CatalogKind) -> Result<Arc<Catalog>, ScenarioError> {
        if let Some(c) = self.loaded.get(&(path.to_owned(), kind)) {
            return Ok(c.clone());
        }
        let catalog = Arc::new(load(path, kind)?);
        self.loaded.insert((path.to_owned(), kind), catalog.clone());
        Ok(catalog)
    }
}

/// Loads and checks one catalog file.
pub fn load(path: &Path, kind: CatalogKind) -> Result<Catalog, ScenarioError> {
    let text = crate::scenario::read_text(path)?;
    let loc = Locator::new(path, &text);
    let entries: Vec<Entry> = match kind {
        CatalogKind::Prompts => {
            let file: PromptFile = loc.parse(&text)?;
            file.intent
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    if row.paraphrases.len() < 4 {
                        return Err(loc.error(
                            None,
                            format!("intent[{i}].paraphrases"),
                            format!(
                                "intent `{}` has {} paraphrases; at least 4 are needed",
                                row.id,
                                row.paraphrases.len()
                            ),
                        ));
                    }
                    let variants = std::iter::once(row.canonical)
                        .chain(row.paraphrases)
                        .map(Arc::from)
                        .collect();
                    Ok(Entry {
                        id: Arc::from(row.id),
                        variants,
                        system: row.system.map(Arc::from),
                        profile: None,
                    })
                })
                .collect::<Result<_, _>>()?
        }
        CatalogKind::Texts => {
            let file: TextFile = loc.parse(&text)?;
            file.text
                .into_iter()
                .map(|row| Entry {
                    id: Arc::from(row.id),
                    variants: vec![Arc::from(row.text)],
                    system: None,
                    profile: None,
                })
                .collect()
        }
        CatalogKind::Profiles => {
            let file: ProfileFile = loc.parse(&text)?;
            file.profile
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let id = row.name.clone().unwrap_or_else(|| format!("profile-{i}"));
                    let body = serde_json::to_value(&row)
                        .map_err(|e| loc.error(None, format!("profile[{i}]"), e.to_string()))?;
                    Ok(Entry {
                        id: Arc::from(id),
                        variants: vec![Arc::from(row.interests.join(", "))],
                        system: None,
                        profile: Some(Arc::new(body)),
                    })
                })
                .collect::<Result<_, ScenarioError>>()?
        }
    };
    if entries.is_empty() {
        return Err(loc.error(None, "", "the catalog has no entries"));
    }
    if let Some((i, e)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.variants.iter().any(|v| v.trim().is_empty()))
    {
        return Err(loc.error(
            None,
            format!("[{i}]"),
            format!("entry `{}` has an empty text", e.id),
        ));
    }
    Ok(Catalog {
        path: path.to_owned(),
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests run in this crate's folder, two below the repository's `fixtures/`:
    /// a scenario named from its own folder (`x.toml`, `./x.toml`) has no parent
    /// as written, and its catalogs are found through the folder it really is.
    #[test]
    fn a_scenario_named_from_its_own_folder_finds_catalogs_above_it() {
        let catalog = Path::new("fixtures/prompts/stories.toml");
        for base in ["", ".", "./src"] {
            let found = resolve(Path::new(base), catalog);
            assert!(
                found.as_deref().is_some_and(Path::is_file),
                "from {base:?}: {found:?}"
            );
        }
        assert_eq!(
            resolve(Path::new(""), Path::new("fixtures/none.toml")),
            None
        );
    }
}
